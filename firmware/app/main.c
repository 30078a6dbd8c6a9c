/* The PRIOT firmware: parse the run-config, model and dataset blobs from their fixed
 * flash offsets (docs/BLOBS.md), run the protocol flow of priot_run (eval frozen -> eval
 * before -> train -> eval after) and report it on UART0 as docs/PROTOCOL.md lines. The
 * host build (firmware/priot/src/host.c) runs the same priot_run, so results agree. */
#include <stdint.h>
#include "board.h"
#include "flash_layout.h"
#include "lineout.h"
#include "priot/blob.h"
#include "priot/engine.h"
#include "priot/state.h"
#include "priot/stream.h"

/* The session arena (scores, w_eff, activations, errors; see priot/engine.h). The 256 KiB
 * main SRAM also holds the kernel code copied to RAM and the rest of .data/.bss. */
#ifndef PRIOT_ARENA_SIZE
#define PRIOT_ARENA_SIZE (224u * 1024u)
#endif

static uint32_t arena[PRIOT_ARENA_SIZE / 4u]; /* uint32_t: 4-byte aligned */
static priot_model_t model;
static priot_dataset_t dataset;
static priot_config_t config;
static priot_session_t session;
static priot_run_result_t result;

__attribute__((noreturn)) static void done(const char *status)
{
    out_begin("DONE");
    out_str("status", status);
    out_end();
    board_halt();
}

__attribute__((noreturn)) static void fail(priot_status_t st)
{
    out_begin("ERROR");
    out_u32("code", (uint32_t)st);
    out_str("msg", priot_status_str(st));
    out_end();
    done("error");
}

static uint64_t hook_now(void *ctx)
{
    (void)ctx;
    return board_cycles();
}

static void hook_eval(void *ctx, uint32_t phase, uint32_t correct, uint32_t total,
                      uint64_t cycles)
{
    (void)ctx;
    out_begin("EVAL");
    out_str("phase", priot_phase_name(phase));
    out_u32("correct", correct);
    out_u32("total", total);
    out_u64("cycles", cycles);
    out_end();
}

static void hook_progress(void *ctx, uint32_t epoch, uint32_t done_in_epoch, uint32_t total)
{
    (void)ctx;
    out_begin("PROGRESS");
    out_u32("epoch", epoch);
    out_u32("done", done_in_epoch);
    out_u32("total", total);
    out_end();
}

static void hook_train(void *ctx, const priot_train_stats_t *st)
{
    (void)ctx;
    out_begin("TRAIN");
    out_u32("samples", st->samples);
    out_u64("cycles", st->cycles);
    out_u64("forward", st->forward);
    out_u64("loss", st->loss);
    out_u64("backward", st->backward);
    out_u64("update", st->update);
    out_u64("mask", st->mask);
    out_u64("scale", st->scale);
    out_end();
}

static const uint8_t *flash(uint32_t addr) { return (const uint8_t *)(uintptr_t)addr; }

/* The saved-state slots in flash (flash_layout.h), written through the boot ROM. */
static int state_erase(void *ctx, uint32_t slot)
{
    (void)ctx;
    return board_flash_erase(PRIOT_STATE_ADDR - PRIOT_FLASH_BASE + slot * PRIOT_STATE_SLOT,
                             PRIOT_STATE_SLOT);
}

static int state_program(void *ctx, uint32_t slot, uint32_t off, const uint8_t *page)
{
    (void)ctx;
    return board_flash_program(PRIOT_STATE_ADDR - PRIOT_FLASH_BASE + slot * PRIOT_STATE_SLOT +
                                   off, page, PRIOT_STATE_PAGE);
}

static const priot_state_store_t state_store = {
    (const uint8_t *)(uintptr_t)PRIOT_STATE_ADDR, PRIOT_STATE_SLOT, (void *)0, state_erase,
    state_program};

static const char *state_status(int st)
{
    switch (st) {
    case PRIOT_OK: return "ok";
    case PRIOT_E_STATE_NONE: return "none";
    case PRIOT_E_STATE_MISMATCH: return "mismatch";
    default: return "error";
    }
}

static void hook_state(void *ctx, uint32_t event, int st, const priot_state_info_t *info)
{
    (void)ctx;
    out_begin("STATE");
    out_str("event", event == PRIOT_STATE_SAVED ? "saved" : "restored");
    out_str("status", state_status(st));
    if (info && (st == PRIOT_OK || st == PRIOT_E_STATE_MISMATCH)) {
        out_u32("slot", info->slot);
        out_u32("seq", info->sequence);
        out_u32("samples", info->samples);
        out_u32("bytes", info->bytes);
        out_hex("crc", info->state_crc);
    }
    out_end();
}

static uint32_t limited(uint32_t n, uint32_t lim) { return (lim && lim < n) ? lim : n; }

/* Bytes of scores kept (PRIOT-S regenerates its subset from the seed: no index bytes). */
static uint32_t score_bytes(const priot_session_t *s)
{
    uint32_t l, n = 0;
    for (l = 0; l < s->model->n_layers; l++)
        n += 2u * s->n_scored[l];
    return n;
}

static void stream_write(void *ctx, const uint8_t *p, uint32_t n)
{
    (void)ctx;
    board_uart_write((const char *)p, n);
}

/* Stream mode (docs/STREAMING.md): after "PRIOT STREAM ready", frames on UART0 both ways,
 * forever. The RX FIFO is drained whenever the device is not busy with a frame; the host
 * sends the next frame only after the reply to the last one (stop-and-wait). */
__attribute__((noreturn)) static void stream_main(void)
{
    static priot_stream_t st;
    priot_state_info_t info;
    priot_status_t restore, st_;
    priot_hooks_t hooks;
    hooks.ctx = (void *)0;
    hooks.now = hook_now;
    hooks.on_eval = 0;
    hooks.on_progress = 0;
    hooks.on_train = 0;
    hooks.on_predict = 0;
    hooks.state = &state_store;
    hooks.on_state = 0;
    st_ = priot_stream_open(&st, &session, &model, &config, (uint8_t *)arena, sizeof(arena),
                            &hooks, &state_store, stream_write, (void *)0, &restore, &info);
    if (st_ != PRIOT_OK)
        fail(st_);
    if (config.persist & PRIOT_PERSIST_RESTORE)
        hook_state((void *)0, PRIOT_STATE_RESTORED, restore,
                   restore == PRIOT_E_STATE_NONE ? (const priot_state_info_t *)0 : &info);
    out_begin("STREAM");
    out_str("status", "ready");
    out_u32("image_bytes", (uint32_t)model.in.c * model.in.h * model.in.w);
    out_u32("classes", model.n_classes);
    out_end();
    for (;;) {
        const int c = board_uart_getc();
        if (c >= 0)
            priot_stream_feed(&st, (uint8_t)c);
    }
}

int main(void)
{
    priot_status_t st;
    priot_hooks_t hooks;

    board_init();
    out_begin("BOOT");
    out_u32("fw", 1);
    out_u32("clk_hz", board_clk_hz());
    out_end();

    /* Each parser reads the common header first and only trusts the payload size it
     * announces if header + payload + CRC fit in the blob's flash region. */
    st = priot_parse_config(flash(PRIOT_CONFIG_ADDR), PRIOT_CONFIG_MAX, &config);
    if (st != PRIOT_OK)
        fail(st);
    st = priot_parse_model(flash(PRIOT_MODEL_ADDR), PRIOT_MODEL_MAX, &model);
    if (st != PRIOT_OK)
        fail(st);
    if (config.mode == PRIOT_MODE_STREAM) {
        out_begin("MODEL");
        out_u32("layers", model.n_layers);
        out_u32("edges", model.n_edges);
        out_hex("crc", model.crc);
        out_end();
        stream_main();
    }
    st = priot_parse_dataset(flash(PRIOT_DATASET_ADDR), PRIOT_DATASET_MAX, &dataset);
    if (st != PRIOT_OK)
        fail(st);
    st = priot_check_dataset(&model, &dataset);
    if (st != PRIOT_OK)
        fail(st);
    if (priot_session_arena_need_cfg(&model, &config) > sizeof(arena))
        fail(PRIOT_E_ARENA);

    out_begin("MODEL");
    out_u32("layers", model.n_layers);
    out_u32("edges", model.n_edges);
    out_hex("crc", model.crc);
    out_end();
    out_begin("DATA");
    out_u32("train", dataset.n_train);
    out_u32("test", dataset.n_test);
    out_i32("angle", dataset.angle_deg);
    out_end();
    out_begin("CONFIG");
    out_u32("method", config.method);
    out_u32("score_permille", config.score_permille);
    out_u32("grad_rounding", config.grad_rounding);
    out_u32("subset_rule", config.subset_rule);
    out_u32("last_layer_permille", config.last_layer_permille);
    out_u32("keep_permille", config.keep_permille);
    out_u32("lr_shift", config.lr_shift);
    out_u32("score_init", config.score_init);
    out_u32("init_shift", config.init_shift);
    out_u32("epochs", config.epochs);
    out_u32("seed", config.seed);
    out_u32("persist", config.persist);
    out_u32("train", limited(dataset.n_train, config.train_limit));
    out_u32("test", limited(dataset.n_test, config.test_limit));
    out_end();

    hooks.ctx = (void *)0;
    hooks.now = hook_now;
    hooks.on_eval = hook_eval;
    hooks.on_progress = config.progress_every ? hook_progress : 0;
    hooks.on_train = hook_train;
    hooks.on_predict = 0;
    hooks.state = &state_store;
    hooks.on_state = hook_state;
    st = priot_run(&session, &model, &dataset, &config, (uint8_t *)arena, sizeof(arena),
                   &hooks, &result);
    if (st != PRIOT_OK)
        fail(st);

    board_check_stack();
    out_begin("SCORES");
    out_hex("crc", result.score_crc);
    out_end();
    out_begin("MEM");
    out_u32("arena_used", session.arena_used);
    out_u32("score_bytes", score_bytes(&session));
    out_u32("arena_size", (uint32_t)sizeof(arena));
    out_u32("stack_peak", board_stack_peak());
    out_u32("stack_size", board_stack_size());
    out_end();
    done("ok");
    return 0;
}
