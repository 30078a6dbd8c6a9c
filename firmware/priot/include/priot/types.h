/* Descriptors shared by the kernels, the blob parser and the engine.
 * A priot_layer_t is the uniform argument struct of every layer kernel (kernels.h); the
 * parser (blob.h) fills it with views into the model blob, so weights stay in flash. */
#ifndef PRIOT_TYPES_H
#define PRIOT_TYPES_H
#include <stdint.h>

#define PRIOT_MAX_LAYERS 16

enum { PRIOT_LAYER_CONV = 1, PRIOT_LAYER_FC = 2 };
enum { PRIOT_FLAG_RELU = 1, PRIOT_FLAG_POOL = 2 };

/* A CHW tensor shape (batch size 1). */
typedef struct {
    uint16_t c, h, w;
} priot_tensor_shape_t;

typedef struct {
    uint8_t type;        /* PRIOT_LAYER_CONV (3x3, stride 1, pad 1) or PRIOT_LAYER_FC */
    uint8_t flags;       /* PRIOT_FLAG_RELU | PRIOT_FLAG_POOL (pool: conv only) */
    uint8_t out_shift, err_shift, grad_shift;   /* each 0..31 */
    priot_tensor_shape_t in;    /* fc: in.c = features, in.h = in.w = 1 */
    priot_tensor_shape_t out;   /* y, before the pool (fc: out.h = out.w = 1) */
    priot_tensor_shape_t next;  /* input of the next layer (after the pool) */
    uint32_t in_size, out_size, next_size;  /* elements of in / out / next */
    uint32_t n_edges;    /* weight count: out.c * in.c * 9 (conv) or out.c * in.c (fc) */
    uint32_t row_edges;  /* edges per output channel: in.c * 9 (conv) or in.c (fc) */
    const int8_t *w;     /* stored weights [out_c][in_c][3][3] or [out][in] */
    const int32_t *bias; /* out_c biases (accumulator scale) or NULL */
} priot_layer_t;

typedef struct {
    uint8_t n_layers;
    uint8_t n_classes;
    priot_tensor_shape_t in;
    uint32_t n_edges;
    uint32_t crc;        /* the blob's stored CRC-32 */
    uint32_t blob_size;  /* header + payload + CRC */
    priot_layer_t layers[PRIOT_MAX_LAYERS];
} priot_model_t;

typedef struct {
    uint32_t n_train, n_test;
    priot_tensor_shape_t shape;
    uint8_t n_classes;
    int16_t angle_deg;
    uint32_t image_size;        /* C*H*W bytes */
    const uint8_t *train_x, *train_y, *test_x, *test_y;
    uint32_t crc, blob_size;
} priot_dataset_t;

enum {
    PRIOT_METHOD_PRIOT = 0, PRIOT_METHOD_PRIOT_S = 1, PRIOT_METHOD_STATIC_SGD = 2,
    PRIOT_METHOD_NITI = 3
};

/* How the weight-training methods round their weight-gradient shift (SEMANTICS.md
 * "Gradient rounding"): round_shift (half up) or NITI's pseudo-stochastic psto_shift. */
enum { PRIOT_ROUND_HALF_UP = 0, PRIOT_ROUND_PSEUDO_STOCHASTIC = 1 };

/* The run config's persist bits (docs/BLOBS.md, state.h): restore the saved state at the
 * start of the run (if one is saved for this model and method), save it after training. */
enum { PRIOT_PERSIST_RESTORE = 1, PRIOT_PERSIST_SAVE = 2, PRIOT_PERSIST_ALL = 3 };

/* The run config's mode: the batch flow of priot_run on the dataset blob, or stream mode
 * (stream.h: samples arrive as frames on UART0; no dataset blob needed). */
enum { PRIOT_MODE_BATCH = 0, PRIOT_MODE_STREAM = 1 };

typedef struct {
    uint32_t seed;
    uint16_t keep_permille;     /* 1..1000 */
    uint8_t lr_shift;           /* 0..31; NITI: update bits 0..15 */
    uint8_t score_init;         /* 0 magnitude, 1 uniform */
    uint8_t init_shift;         /* 0..14 */
    uint8_t method;             /* 0 PRIOT, 1 PRIOT-S, 2 static-scale SGD, 3 NITI */
    uint16_t epochs;            /* 0..1000 */
    uint32_t train_limit, test_limit, progress_every;
    uint16_t score_permille;    /* PRIOT-S: scored fraction 1..1000; 0 for PRIOT */
    uint8_t grad_rounding;      /* static SGD, NITI: PRIOT_ROUND_*; 0 for the others */
    uint8_t subset_rule;        /* PRIOT-S: 0 random stratified, 1 largest |w| (subset.h) */
    uint16_t last_layer_permille;   /* PRIOT-S: the last layer's scored fraction 1..1000,
                                       0 = score_permille */
    uint8_t mode;               /* PRIOT_MODE_*: the run flow, or frames on UART0 (stream.h) */
    uint8_t persist;            /* PRIOT_PERSIST_* bits: the saved state (state.h) */
} priot_config_t;

#endif
