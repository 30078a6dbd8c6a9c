"""A user's own torch model as one of our layer chains (``invoke export``).

The model is an ``nn.Sequential`` (nested ``nn.Sequential`` containers are walked in
order; their layers are named by their dotted path, e.g. ``features.3``) made of what the
integer engine runs, in this order::

    [ Conv2d(c, c', 3, stride=1, padding=1) [BatchNorm2d(c')] ReLU() [MaxPool2d(2)] ] x n
    Flatten()
    [ Linear(f, f') ReLU() ] x m
    Linear(f, n_classes)                       # the logits: no ReLU after it

* at least one layer (conv or linear), at most 16 (docs/BLOBS.md ``n_layers``);
* every layer but the last is followed by ReLU (the engine's hidden layers all are);
  a 2x2 max pool (stride 2, no padding) may follow a conv's ReLU, at most one per conv;
* batch norm directly after a conv (before its ReLU) is folded into the conv before
  quantization-aware training; a conv or linear without bias gets a zero bias;
* ``Dropout`` (any kind) and ``Identity`` are dropped, with a note: they are the identity
  at inference, and the device trains without dropout;
* the first conv's input channels and the first linear's input features must match the
  data (MNIST 1x28x28, CIFAR-10 3x32x32); the last linear has as many outputs as the
  data has classes (10); channels and features at most 65535 (the layer table's u16
  fields).

Everything else (another kernel size, stride or padding, average pooling, another
activation, softmax, a conv after the flatten, a module that is not ``nn.Sequential``)
is refused by :func:`parse` before any data is read or any training done, with a
:class:`ModelError` naming the layer (its index and repr) and what is supported.

Sources (:func:`load`): ``FILE.py:FUNC`` (a function returning the ``nn.Sequential``,
called with no arguments), a ``torch.save``\\ d module (``.pt``/``.pth``: a pickle, so
only load files you trust), and either of them plus a ``state_dict`` file (``weights``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..core import blob
from ..errors import ModelError
from .models import ChainCNN

MAX_FEATURES = 65535      # the layer table's u16 fields (channels, features)

SUPPORTED = ("supported, in this order: Conv2d(c_in, c_out, 3, stride=1, padding=1) "
             "[BatchNorm2d(c_out)] ReLU() [MaxPool2d(2)], repeated; Flatten(); "
             "Linear(f_in, f_out) ReLU(), repeated; a last Linear(f_in, n_classes) without "
             "ReLU (Dropout and Identity are dropped)")

_ENGINE_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear)
_DROPPED = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
            nn.FeatureAlphaDropout, nn.Identity)


@dataclass
class ChainSpec:
    """What :func:`parse` found: the chain (ChainCNN's ``convs`` / ``fcs``) and, per chain
    layer, the user's modules to copy weights from."""
    in_shape: tuple[int, int, int]
    convs: list[tuple[int, bool]]             # (out_c, pool)
    fcs: list[int]                            # out_features
    conv_modules: list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]
    fc_modules: list[nn.Linear]
    notes: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)   # "name: repr" of every kept module

    @property
    def n_layers(self) -> int:
        return len(self.convs) + len(self.fcs)

    def describe(self) -> str:
        parts = [f"conv{c}" + ("-pool" if p else "") for c, p in self.convs]
        parts += [f"fc{o}" for o in self.fcs]
        return " ".join(parts)


def _flatten(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    out = []
    for name, child in model.named_children():
        path = f"{prefix}{name}"
        if type(child) is nn.Sequential:
            out += _flatten(child, path + ".")
        else:
            out.append((path, child))
    return out


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _refuse(name: str, mod: nn.Module, why: str, supported: bool = True) -> ModelError:
    return ModelError(f"layer {name} ({mod!r}): {why}" + (f"; {SUPPORTED}" if supported else ""))


def _conv_problem(m: nn.Conv2d) -> str | None:
    if _pair(m.kernel_size) != (3, 3):
        return f"kernel {m.kernel_size} is not 3x3 (the engine's convs are 3x3)"
    if _pair(m.stride) != (1, 1):
        return f"stride {m.stride} is not 1 (downsample with MaxPool2d(2) instead)"
    if m.padding != "same" and _pair(m.padding) != (1, 1):
        return f"padding {m.padding} is not 1 (the engine's convs keep the size: padding=1)"
    if _pair(m.dilation) != (1, 1):
        return f"dilation {m.dilation} is not 1"
    if m.groups != 1:
        return f"groups={m.groups}: only ordinary (groups=1) convs are supported"
    if m.padding_mode != "zeros":
        return f"padding_mode {m.padding_mode!r}: only zero padding is supported"
    return None


def _pool_problem(m: nn.MaxPool2d) -> str | None:
    stride = m.kernel_size if m.stride is None else m.stride
    if _pair(m.kernel_size) != (2, 2) or _pair(stride) != (2, 2):
        return f"kernel {m.kernel_size} stride {stride}: only MaxPool2d(2) (2x2, stride 2)"
    if _pair(m.padding) != (0, 0) or _pair(m.dilation) != (1, 1) or m.ceil_mode \
            or m.return_indices:
        return "only MaxPool2d(2) without padding, dilation, ceil_mode or return_indices"
    return None


def parse(model, in_shape: tuple[int, int, int], n_classes: int) -> ChainSpec:
    """The chain of ``model`` for inputs ``in_shape`` (C, H, W) and ``n_classes`` outputs;
    ModelError on the first thing the engine cannot run. Reads no data, trains nothing."""
    if not isinstance(model, nn.Sequential) or type(model).forward is not nn.Sequential.forward:
        kind, where = type(model).__qualname__, type(model).__module__
        kind = kind if where.startswith("priot_user_model_") else f"{where}.{kind}"
        raise ModelError(f"the model is a {kind}, "
                         "not an nn.Sequential (or one with its own forward): write it "
                         "as nn.Sequential(...) of the "
                         f"supported layers ({SUPPORTED})")
    c, h, w = (int(v) for v in in_shape)
    convs, fcs, conv_mods, fc_mods, notes, kept = [], [], [], [], [], []
    flat = False        # after the Flatten: only linears
    last = None         # "conv", "bn", "relu", "pool", "linear", "flatten" or None
    last_name = ""
    pending_conv = None
    last_kept = None
    modules = _flatten(model)
    if all(type(m) in _DROPPED for _, m in modules):
        raise ModelError(f"the nn.Sequential has no layers to run; {SUPPORTED}")
    for name, mod in modules:
        if type(mod) in _DROPPED:
            notes.append(f"layer {name} ({mod!r}) dropped: the identity at inference, and "
                         "on-device training uses no dropout")
            continue
        kept.append(f"{name}: {mod!r}")
        last_kept = (name, mod)
        if type(mod) is nn.Conv2d:
            if flat:
                raise _refuse(name, mod, "a conv after the Flatten: all convs come first")
            if last in ("conv", "bn"):
                raise _refuse(name, mod, f"the conv before it (layer {last_name}) has no "
                              "ReLU: every layer but the last is followed by ReLU")
            problem = _conv_problem(mod)
            if problem:
                raise _refuse(name, mod, problem)
            if mod.in_channels != c:
                what = "the data has" if not convs else "the previous conv gives"
                raise _refuse(name, mod, f"in_channels={mod.in_channels} but {what} {c} "
                              f"channel(s) ({c}x{h}x{w})", supported=False)
            if mod.out_channels > MAX_FEATURES:
                raise _refuse(name, mod, f"at most {MAX_FEATURES} channels", supported=False)
            pending_conv = [mod, None]
            conv_mods.append(pending_conv)
            convs.append([mod.out_channels, False])
            c = mod.out_channels
            last = "conv"
        elif type(mod) is nn.BatchNorm2d:
            if last != "conv":
                raise _refuse(name, mod, "batch norm is folded into the conv it directly "
                              "follows: put it right after a Conv2d, before the ReLU")
            if mod.num_features != c:
                raise _refuse(name, mod, f"num_features={mod.num_features} but the conv "
                              f"gives {c} channels", supported=False)
            if mod.running_mean is None or mod.running_var is None:
                raise _refuse(name, mod, "track_running_stats=False: folding needs the "
                              "running statistics", supported=False)
            pending_conv[1] = mod
            last = "bn"
        elif type(mod) is nn.ReLU:
            if last not in ("conv", "bn", "linear"):
                raise _refuse(name, mod, "a ReLU must directly follow a conv (or its batch "
                              "norm) or a linear")
            last = "relu"
        elif type(mod) is nn.MaxPool2d:
            if last in ("conv", "bn"):
                raise _refuse(name, mod, f"the conv before it (layer {last_name}) has no "
                              "ReLU: the engine pools after the ReLU (conv -> [batch norm] "
                              "-> ReLU -> pool)")
            if last == "pool":
                raise _refuse(name, mod, "a second pool after one conv: at most one pool "
                              "per conv")
            if last != "relu" or flat or pending_conv is None:
                raise _refuse(name, mod, "a max pool must follow a conv's ReLU (conv -> "
                              "[batch norm] -> ReLU -> pool)")
            problem = _pool_problem(mod)
            if problem:
                raise _refuse(name, mod, problem)
            if h < 2 or w < 2:
                raise _refuse(name, mod, f"pooling a {h}x{w} plane leaves nothing",
                              supported=False)
            convs[-1][1] = True
            h, w = h // 2, w // 2
            last = "pool"
        elif type(mod) is nn.Flatten:
            if flat:
                raise _refuse(name, mod, "a second Flatten")
            if last in ("conv", "bn"):
                raise _refuse(name, mod, f"the conv before it (layer {last_name}) has no "
                              "ReLU: every layer but the last is followed by ReLU")
            if (mod.start_dim, mod.end_dim) != (1, -1):
                raise _refuse(name, mod, "only Flatten() (start_dim=1, end_dim=-1)")
            flat = True
            pending_conv = None
            last = "flatten"
        elif type(mod) is nn.Linear:
            if not flat:
                raise _refuse(name, mod, "a Linear needs Flatten() before it (the input is "
                              "an image, C x H x W)")
            if last == "linear":
                raise _refuse(name, mod, f"the linear before it (layer {last_name}) has no "
                              "ReLU: only the last layer may go without")
            feats = c * h * w if not fcs else fcs[-1]
            if mod.in_features != feats:
                src = (f"{c}x{h}x{w} = {feats} features after the Flatten" if not fcs
                       else f"{feats} outputs of the linear before it")
                raise _refuse(name, mod, f"in_features={mod.in_features} but the chain gives "
                              f"{src}", supported=False)
            if max(mod.in_features, mod.out_features) > MAX_FEATURES:
                raise _refuse(name, mod, f"at most {MAX_FEATURES} features", supported=False)
            fcs.append(mod.out_features)
            fc_mods.append(mod)
            last = "linear"
        else:
            kind = type(mod).__name__
            base = next((b for b in type(mod).__mro__[1:] if b in _ENGINE_LAYERS), None)
            why = {"AvgPool2d": "average pooling is not supported (use MaxPool2d(2))",
                   "AdaptiveAvgPool2d": "adaptive/average pooling is not supported",
                   "Softmax": "drop it: the last Linear's outputs are the logits",
                   "LogSoftmax": "drop it: the last Linear's outputs are the logits"}.get(
                kind, f"{kind} is not a layer the integer engine runs" + (
                    f" (a subclass of nn.{base.__name__}: its forward may differ, use "
                    f"nn.{base.__name__} itself)" if base else ""))
            raise _refuse(name, mod, why)
        last_name = name
    if last != "linear":
        end = last_kept
        if last == "relu" and fcs:
            raise _refuse(end[0], end[1], "the chain ends with a ReLU: the last Linear's "
                          "outputs are the logits, drop the ReLU after it")
        raise _refuse(end[0], end[1], "the chain must end with Linear(f_in, n_classes)")
    n = len(convs) + len(fcs)
    if n > blob.MAX_LAYERS:
        raise ModelError(f"{n} conv/linear layers: the model blob holds at most "
                         f"{blob.MAX_LAYERS}; {SUPPORTED}")
    if fcs[-1] != n_classes:
        name = next(nm for nm, m in reversed(modules) if m is fc_mods[-1])
        raise _refuse(name, fc_mods[-1], f"{fcs[-1]} outputs, but the data has {n_classes} "
                      f"classes: the last Linear needs out_features={n_classes}",
                      supported=False)
    spec = ChainSpec((int(in_shape[0]), int(in_shape[1]), int(in_shape[2])),
                     [tuple(x) for x in convs], fcs, [tuple(x) for x in conv_mods], fc_mods,
                     notes, kept)
    edges = sum(m.weight.numel() for m, _ in spec.conv_modules) + sum(
        m.weight.numel() for m in spec.fc_modules)
    biases = sum(x for x, _ in spec.convs) + sum(spec.fcs)
    size = 16 + 16 + 32 * n + edges + 4 * biases + 4 * n + 4   # upper bound (alignment)
    if size > blob.MODEL_MAX:
        raise ModelError(f"the model has {edges:,} weights: its blob (~{size:,} bytes) "
                         f"exceeds the Pico's {blob.MODEL_MAX:,}-byte model flash region; "
                         "use fewer channels or features")
    return spec


@torch.no_grad()
def to_chain(spec: ChainSpec) -> ChainCNN:
    """A ChainCNN with the user's weights (batch norm kept where the user had it, for
    float training; pretraining folds it before QAT)."""
    model = ChainCNN(spec.in_shape, spec.convs, spec.fcs,
                     batchnorm=any(bn is not None for _, bn in spec.conv_modules))
    for i, (conv, bn) in enumerate(spec.conv_modules):
        dst = model.convs[i]
        dst.weight.copy_(conv.weight)
        dst.bias.copy_(conv.bias if conv.bias is not None else torch.zeros_like(dst.bias))
        if bn is None:
            model.bns[i] = nn.Identity()
            continue
        new = model.bns[i]
        new.eps, new.momentum = bn.eps, bn.momentum
        new.running_mean.copy_(bn.running_mean)
        new.running_var.copy_(bn.running_var)
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
        if bn.affine:
            new.weight.copy_(bn.weight)
            new.bias.copy_(bn.bias)
    for dst, src in zip(model.fcs, spec.fc_modules):
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias if src.bias is not None else torch.zeros_like(dst.bias))
    return model.float()


# ---------------------------------------------------------------- loading


@dataclass
class LoadedModel:
    module: object
    trained: bool          # weights came from a file (saved module or state_dict)
    provenance: dict


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _call_builder(spec: str) -> tuple[object, Path]:
    file, _, func = spec.rpartition(":")
    path = Path(file)
    if not path.is_file():
        raise ModelError(f"--model {spec}: {path} is not a file (give FILE.py:FUNCTION, "
                         "e.g. my_model.py:make, or a torch.save'd module .pt)")
    if not func.isidentifier():
        raise ModelError(f"--model {spec}: {func!r} is not a function name")
    name = f"priot_user_model_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"
    mod_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(mod_spec)
    sys.modules[name] = module   # dataclasses etc. in the user's file look themselves up
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)   # the file may import its neighbours
    try:
        mod_spec.loader.exec_module(module)
    except Exception as e:   # the user's code: say where it failed
        raise ModelError(f"--model {spec}: importing {path} failed: "
                         f"{type(e).__name__}: {e}") from e
    finally:
        sys.path.remove(folder)
    fn = getattr(module, func, None)
    if not callable(fn):
        raise ModelError(f"--model {spec}: {path} defines no function {func!r}")
    try:
        return fn(), path
    except Exception as e:
        raise ModelError(f"--model {spec}: {func}() failed: {type(e).__name__}: {e}") from e


def load(spec: str, weights: str | Path | None = None) -> LoadedModel:
    """The user's module: ``FILE.py:FUNC`` (built), or a ``torch.save``\\ d module file;
    ``weights``: a state_dict file loaded into it."""
    spec = str(spec)
    prov: dict = {"model": spec}
    if spec.rpartition(":")[0].endswith(".py") or spec.endswith(".py"):
        if spec.endswith(".py"):
            raise ModelError(f"--model {spec}: name the function too, FILE.py:FUNCTION "
                             "(e.g. my_model.py:make)")
        module, path = _call_builder(spec)
        prov["model_sha256"] = _sha(path)
        trained = False
    else:
        path = Path(spec)
        if not path.is_file():
            raise ModelError(f"--model {spec} does not exist: give FILE.py:FUNCTION or a "
                             "torch.save'd module file")
        try:   # a whole module is a pickle: it runs code from the file (your own file)
            module = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:
            raise ModelError(f"--model {spec}: not a torch.save file ({type(e).__name__}: "
                             f"{e})") from e
        if isinstance(module, dict):
            raise ModelError(f"--model {spec} holds a state_dict, not a module: give the "
                             f"builder and the weights, --model FILE.py:FUNCTION --weights "
                             f"{spec}")
        prov["model_sha256"] = _sha(path)
        trained = True
    if weights is not None:
        wpath = Path(weights)
        if not wpath.is_file():
            raise ModelError(f"--weights {weights} does not exist")
        try:
            state = torch.load(wpath, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelError(f"--weights {weights}: not a torch.save'd state_dict "
                             f"({type(e).__name__}: {e})") from e
        if not isinstance(state, dict) or not isinstance(module, nn.Module):
            raise ModelError(f"--weights {weights}: expected a state_dict (a dict of "
                             f"tensors), found {type(state).__name__}")
        try:
            module.load_state_dict(state)
        except RuntimeError as e:
            raise ModelError(f"--weights {weights} do not fit the model: {e}") from e
        prov.update(weights=str(wpath), weights_sha256=_sha(wpath))
        trained = True
    return LoadedModel(module, trained, prov)
