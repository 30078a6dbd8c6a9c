/* Static messages of the status codes (status.h). */
#include "priot/status.h"

const char *priot_status_str(int code)
{
    switch ((priot_status_t)code) {
    case PRIOT_OK: return "ok";
    case PRIOT_E_ARG: return "bad_argument";
    case PRIOT_E_ALIGN: return "blob_not_4_byte_aligned";
    case PRIOT_E_ARENA: return "arena_too_small";
    case PRIOT_E_DATA_SHAPE: return "dataset_shape_does_not_match_model";
    case PRIOT_E_DATA_CLASSES: return "dataset_n_classes_does_not_match_model";
    case PRIOT_E_BUFFER: return "output_buffer_too_small";
    case PRIOT_E_MODEL_SIZE: return "model_blob_too_small";
    case PRIOT_E_MODEL_MAGIC: return "model_magic_mismatch";
    case PRIOT_E_MODEL_VERSION: return "model_version_unsupported";
    case PRIOT_E_MODEL_HEADER_SIZE: return "model_header_size_invalid";
    case PRIOT_E_MODEL_PAYLOAD_SIZE: return "model_payload_size_exceeds_blob";
    case PRIOT_E_MODEL_CRC: return "model_crc32_mismatch";
    case PRIOT_E_MODEL_HEADER: return "model_payload_too_small_for_header";
    case PRIOT_E_MODEL_N_LAYERS: return "model_n_layers_out_of_range";
    case PRIOT_E_MODEL_N_CLASSES: return "model_n_classes_out_of_range";
    case PRIOT_E_MODEL_FRAC: return "model_input_frac_or_logit_frac_invalid";
    case PRIOT_E_MODEL_LAYER_TABLE: return "model_layer_table_truncated";
    case PRIOT_E_LAYER_TYPE: return "model_layer_type_unknown";
    case PRIOT_E_LAYER_KERNEL: return "model_layer_kernel_or_pad_invalid";
    case PRIOT_E_LAYER_FLAGS: return "model_layer_flags_invalid";
    case PRIOT_E_LAYER_SHIFT: return "model_layer_shift_above_31";
    case PRIOT_E_LAYER_SHAPE: return "model_layer_shape_zero";
    case PRIOT_E_LAYER_CHAIN: return "model_layer_chain_inconsistent";
    case PRIOT_E_LAYER_WEIGHT_COUNT: return "model_layer_weight_count_mismatch";
    case PRIOT_E_LAYER_WEIGHT_OFFSET: return "model_layer_weight_offset_outside_payload";
    case PRIOT_E_LAYER_BIAS_COUNT: return "model_layer_bias_count_mismatch";
    case PRIOT_E_LAYER_BIAS_OFFSET: return "model_layer_bias_offset_invalid";
    case PRIOT_E_MODEL_LAST_LAYER: return "model_last_layer_not_plain_fc";
    case PRIOT_E_MODEL_OUT_CLASSES: return "model_last_layer_out_c_not_n_classes";
    case PRIOT_E_MODEL_N_EDGES: return "model_n_edges_mismatch";
    case PRIOT_E_DATASET_SIZE: return "dataset_blob_too_small";
    case PRIOT_E_DATASET_MAGIC: return "dataset_magic_mismatch";
    case PRIOT_E_DATASET_VERSION: return "dataset_version_unsupported";
    case PRIOT_E_DATASET_HEADER_SIZE: return "dataset_header_size_invalid";
    case PRIOT_E_DATASET_PAYLOAD_SIZE: return "dataset_payload_size_exceeds_blob";
    case PRIOT_E_DATASET_CRC: return "dataset_crc32_mismatch";
    case PRIOT_E_DATASET_HEADER: return "dataset_payload_too_small_for_header";
    case PRIOT_E_DATASET_SHAPE: return "dataset_shape_or_n_classes_invalid";
    case PRIOT_E_DATASET_LENGTH: return "dataset_payload_size_does_not_match_counts";
    case PRIOT_E_DATASET_TRAIN_LABEL: return "dataset_train_label_out_of_range";
    case PRIOT_E_DATASET_TEST_LABEL: return "dataset_test_label_out_of_range";
    case PRIOT_E_CONFIG_SIZE: return "config_blob_too_small";
    case PRIOT_E_CONFIG_MAGIC: return "config_magic_mismatch";
    case PRIOT_E_CONFIG_VERSION: return "config_version_unsupported";
    case PRIOT_E_CONFIG_HEADER_SIZE: return "config_header_size_invalid";
    case PRIOT_E_CONFIG_PAYLOAD_SIZE: return "config_payload_size_exceeds_blob";
    case PRIOT_E_CONFIG_CRC: return "config_crc32_mismatch";
    case PRIOT_E_CONFIG_LENGTH: return "config_payload_size_not_32";
    case PRIOT_E_CONFIG_KEEP: return "config_keep_permille_out_of_range";
    case PRIOT_E_CONFIG_LR_SHIFT: return "config_lr_shift_out_of_range";
    case PRIOT_E_CONFIG_SCORE_INIT: return "config_score_init_unknown";
    case PRIOT_E_CONFIG_INIT_SHIFT: return "config_init_shift_above_14";
    case PRIOT_E_CONFIG_METHOD: return "config_method_unknown";
    case PRIOT_E_CONFIG_EPOCHS: return "config_epochs_above_1000";
    case PRIOT_E_CONFIG_SCORE_PERMILLE: return "config_score_permille_invalid_for_method";
    case PRIOT_E_CONFIG_GRAD_ROUNDING: return "config_grad_rounding_invalid_for_method";
    case PRIOT_E_CONFIG_SUBSET_RULE: return "config_subset_rule_invalid_for_method";
    case PRIOT_E_CONFIG_LAST_LAYER_PERMILLE:
        return "config_last_layer_permille_invalid_for_method";
    case PRIOT_E_CONFIG_PERSIST: return "config_persist_flags_unknown";
    case PRIOT_E_CONFIG_MODE: return "config_mode_unknown";
    case PRIOT_E_STATE_NONE: return "state_none_saved";
    case PRIOT_E_STATE_MISMATCH: return "state_saved_for_another_model_or_method";
    case PRIOT_E_STATE_TOO_BIG: return "state_larger_than_its_flash_slot";
    case PRIOT_E_STATE_FLASH: return "state_flash_write_failed";
    case PRIOT_E_STATE_STORE: return "state_persist_without_a_store";
    }
    return "unknown_error";
}
