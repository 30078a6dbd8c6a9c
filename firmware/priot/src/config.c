/* The run-config range check (config.h); the method-specific ranges come from the
 * method's registration (engine_method.h). */
#include "priot/config.h"
#include "engine_method.h"

priot_status_t priot_config_check(const priot_config_t *c)
{
    const priot_method_ops_t *method;
    if (!c)
        return PRIOT_E_ARG;
    if (c->keep_permille < 1u || c->keep_permille > 1000u)
        return PRIOT_E_CONFIG_KEEP;
    if (c->lr_shift > 31u)
        return PRIOT_E_CONFIG_LR_SHIFT;
    if (c->score_init > 1u)
        return PRIOT_E_CONFIG_SCORE_INIT;
    if (c->init_shift > 14u)
        return PRIOT_E_CONFIG_INIT_SHIFT;
    method = priot_method_find(c->method);
    if (!method)
        return PRIOT_E_CONFIG_METHOD;
    if (c->lr_shift > method->lr_shift_max)
        return PRIOT_E_CONFIG_LR_SHIFT;
    if (c->epochs > 1000u)
        return PRIOT_E_CONFIG_EPOCHS;
    if (c->score_permille < method->score_permille_min ||
        c->score_permille > method->score_permille_max)
        return PRIOT_E_CONFIG_SCORE_PERMILLE;
    if (c->grad_rounding > method->grad_rounding_max)
        return PRIOT_E_CONFIG_GRAD_ROUNDING;
    if (c->subset_rule > method->subset_rule_max)
        return PRIOT_E_CONFIG_SUBSET_RULE;
    if (c->last_layer_permille > method->last_layer_permille_max)
        return PRIOT_E_CONFIG_LAST_LAYER_PERMILLE;
    if (c->persist > PRIOT_PERSIST_ALL)
        return PRIOT_E_CONFIG_PERSIST;
    if (c->mode > PRIOT_MODE_STREAM)
        return PRIOT_E_CONFIG_MODE;
    return PRIOT_OK;
}
