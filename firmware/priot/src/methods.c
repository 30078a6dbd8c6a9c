/* The registration table of the training methods, indexed by the config's method code
 * (types.h PRIOT_METHOD_*). A new method: its code in types.h, its file engine_<name>.c
 * defining a priot_method_ops_t (engine_method.h), and here its name and its entry. */
#include <stddef.h>
#include "engine_method.h"

/* Defined by the methods' files; named nowhere else. */
extern const priot_method_ops_t priot_method_priot, priot_method_priot_s,
    priot_method_static_sgd, priot_method_niti;

static const priot_method_ops_t *const methods[] = {
    [PRIOT_METHOD_PRIOT] = &priot_method_priot,
    [PRIOT_METHOD_PRIOT_S] = &priot_method_priot_s,
    [PRIOT_METHOD_STATIC_SGD] = &priot_method_static_sgd,
    [PRIOT_METHOD_NITI] = &priot_method_niti,
};

const priot_method_ops_t *priot_method_find(uint32_t code)
{
    return code < sizeof(methods) / sizeof(methods[0]) ? methods[code] : NULL;
}
