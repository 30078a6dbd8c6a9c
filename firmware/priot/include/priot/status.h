/* Status codes of every priot function that can fail. Each code has a static message
 * (lowercase words joined by underscores, naming the offending blob field) that the
 * firmware prints as "PRIOT ERROR code=<n> msg=<message>". Codes are stable: the
 * orchestration maps them back (orchestration/priot/native.py). */
#ifndef PRIOT_STATUS_H
#define PRIOT_STATUS_H

typedef enum {
    PRIOT_OK = 0,

    /* generic / engine */
    PRIOT_E_ARG = 1,            /* "bad_argument" */
    PRIOT_E_ALIGN = 2,          /* "blob_not_4_byte_aligned" */
    PRIOT_E_ARENA = 3,          /* "arena_too_small" */
    PRIOT_E_DATA_SHAPE = 4,     /* "dataset_shape_does_not_match_model" */
    PRIOT_E_DATA_CLASSES = 5,   /* "dataset_n_classes_does_not_match_model" */
    PRIOT_E_BUFFER = 6,         /* "output_buffer_too_small" */

    /* framing, model (10..15), dataset (40..45), config (60..65): base + PRIOT_F_* */
    PRIOT_E_MODEL_SIZE = 10,         /* "model_blob_too_small" */
    PRIOT_E_MODEL_MAGIC = 11,        /* "model_magic_mismatch" */
    PRIOT_E_MODEL_VERSION = 12,      /* "model_version_unsupported" */
    PRIOT_E_MODEL_HEADER_SIZE = 13,  /* "model_header_size_invalid" */
    PRIOT_E_MODEL_PAYLOAD_SIZE = 14, /* "model_payload_size_exceeds_blob" */
    PRIOT_E_MODEL_CRC = 15,          /* "model_crc32_mismatch" */
    /* model payload */
    PRIOT_E_MODEL_HEADER = 16,       /* "model_payload_too_small_for_header" */
    PRIOT_E_MODEL_N_LAYERS = 17,     /* "model_n_layers_out_of_range" */
    PRIOT_E_MODEL_N_CLASSES = 18,    /* "model_n_classes_out_of_range" */
    PRIOT_E_MODEL_FRAC = 19,         /* "model_input_frac_or_logit_frac_invalid" */
    PRIOT_E_MODEL_LAYER_TABLE = 20,  /* "model_layer_table_truncated" */
    PRIOT_E_LAYER_TYPE = 21,         /* "model_layer_type_unknown" */
    PRIOT_E_LAYER_KERNEL = 22,       /* "model_layer_kernel_or_pad_invalid" */
    PRIOT_E_LAYER_FLAGS = 23,        /* "model_layer_flags_invalid" */
    PRIOT_E_LAYER_SHIFT = 24,        /* "model_layer_shift_above_31" */
    PRIOT_E_LAYER_SHAPE = 25,        /* "model_layer_shape_zero" */
    PRIOT_E_LAYER_CHAIN = 26,        /* "model_layer_chain_inconsistent" */
    PRIOT_E_LAYER_WEIGHT_COUNT = 27, /* "model_layer_weight_count_mismatch" */
    PRIOT_E_LAYER_WEIGHT_OFFSET = 28,/* "model_layer_weight_offset_outside_payload" */
    PRIOT_E_LAYER_BIAS_COUNT = 29,   /* "model_layer_bias_count_mismatch" */
    PRIOT_E_LAYER_BIAS_OFFSET = 30,  /* "model_layer_bias_offset_invalid" */
    PRIOT_E_MODEL_LAST_LAYER = 31,   /* "model_last_layer_not_plain_fc" */
    PRIOT_E_MODEL_OUT_CLASSES = 32,  /* "model_last_layer_out_c_not_n_classes" */
    PRIOT_E_MODEL_N_EDGES = 33,      /* "model_n_edges_mismatch" */

    PRIOT_E_DATASET_SIZE = 40,         /* "dataset_blob_too_small" */
    PRIOT_E_DATASET_MAGIC = 41,        /* "dataset_magic_mismatch" */
    PRIOT_E_DATASET_VERSION = 42,      /* "dataset_version_unsupported" */
    PRIOT_E_DATASET_HEADER_SIZE = 43,  /* "dataset_header_size_invalid" */
    PRIOT_E_DATASET_PAYLOAD_SIZE = 44, /* "dataset_payload_size_exceeds_blob" */
    PRIOT_E_DATASET_CRC = 45,          /* "dataset_crc32_mismatch" */
    PRIOT_E_DATASET_HEADER = 46,       /* "dataset_payload_too_small_for_header" */
    PRIOT_E_DATASET_SHAPE = 47,        /* "dataset_shape_or_n_classes_invalid" */
    PRIOT_E_DATASET_LENGTH = 48,       /* "dataset_payload_size_does_not_match_counts" */
    PRIOT_E_DATASET_TRAIN_LABEL = 49,  /* "dataset_train_label_out_of_range" */
    PRIOT_E_DATASET_TEST_LABEL = 50,   /* "dataset_test_label_out_of_range" */

    PRIOT_E_CONFIG_SIZE = 60,          /* "config_blob_too_small" */
    PRIOT_E_CONFIG_MAGIC = 61,         /* "config_magic_mismatch" */
    PRIOT_E_CONFIG_VERSION = 62,       /* "config_version_unsupported" */
    PRIOT_E_CONFIG_HEADER_SIZE = 63,   /* "config_header_size_invalid" */
    PRIOT_E_CONFIG_PAYLOAD_SIZE = 64,  /* "config_payload_size_exceeds_blob" */
    PRIOT_E_CONFIG_CRC = 65,           /* "config_crc32_mismatch" */
    PRIOT_E_CONFIG_LENGTH = 66,        /* "config_payload_size_not_32" */
    PRIOT_E_CONFIG_KEEP = 67,          /* "config_keep_permille_out_of_range" */
    PRIOT_E_CONFIG_LR_SHIFT = 68,      /* "config_lr_shift_out_of_range" */
    PRIOT_E_CONFIG_SCORE_INIT = 69,    /* "config_score_init_unknown" */
    PRIOT_E_CONFIG_INIT_SHIFT = 70,    /* "config_init_shift_above_14" */
    PRIOT_E_CONFIG_METHOD = 71,        /* "config_method_unknown" */
    PRIOT_E_CONFIG_EPOCHS = 72,        /* "config_epochs_above_1000" */
    PRIOT_E_CONFIG_SCORE_PERMILLE = 73, /* "config_score_permille_invalid_for_method" */
    PRIOT_E_CONFIG_GRAD_ROUNDING = 74,  /* "config_grad_rounding_invalid_for_method" */
    PRIOT_E_CONFIG_SUBSET_RULE = 75,   /* "config_subset_rule_invalid_for_method" */
    PRIOT_E_CONFIG_LAST_LAYER_PERMILLE = 76, /* "config_last_layer_permille_invalid_for_method" */
    PRIOT_E_CONFIG_PERSIST = 77,       /* "config_persist_flags_unknown" */
    PRIOT_E_CONFIG_MODE = 78,          /* "config_mode_unknown" */

    /* the saved state (state.h) */
    PRIOT_E_STATE_NONE = 90,           /* "state_none_saved" */
    PRIOT_E_STATE_MISMATCH = 91,       /* "state_saved_for_another_model_or_method" */
    PRIOT_E_STATE_TOO_BIG = 92,        /* "state_larger_than_its_flash_slot" */
    PRIOT_E_STATE_FLASH = 93,          /* "state_flash_write_failed" */
    PRIOT_E_STATE_STORE = 94           /* "state_persist_without_a_store" */
} priot_status_t;

/* Offsets of the framing errors from a blob kind's base code. */
enum {
    PRIOT_F_SIZE = 0, PRIOT_F_MAGIC, PRIOT_F_VERSION, PRIOT_F_HEADER_SIZE,
    PRIOT_F_PAYLOAD_SIZE, PRIOT_F_CRC
};

/* Static message of a code ("unknown_error" for codes not listed above). */
const char *priot_status_str(int code);

#endif
