"""Keras 3 builders of the deep models (functional API): cnn, leadwise_cnn, tcn, lstm, shallow_hf
(:mod:`hfecg_bench.models.shallow_hf`), and the multiple-instance wrapper of any of them.

Every builder takes the beat shape ``(n_window, n_leads)`` and a params dict
(see :func:`hfecg_bench.models.deep.DEEP_SPECS` for defaults and search
spaces) and returns an uncompiled ``keras.Model`` with one sigmoid output. The
input of its ``head_dropout`` layer is the model's per-beat embedding, which
:func:`build_mil` pools over a bag of beats.

Importing this module imports Keras, hence TensorFlow (seconds, hundreds of
MB), which is why :mod:`hfecg_bench.models.deep` imports it only inside the
functions that build or fit. It configures nothing: :func:`build_model` calls
:func:`hfecg_bench.runtime.configure_tensorflow` (threads, op determinism, once)
before its first build.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops, regularizers

from hfecg_bench.errors import ParameterError, TrialFailedError
from hfecg_bench.models.deep_config import parse_dilations, receptive_field
from hfecg_bench.runtime import configure_tensorflow

MODEL_NAMES = ("cnn", "leadwise_cnn", "tcn", "lstm", "shallow_hf")
BN_MOMENTUM = 0.9
#: The layer whose input is a model's per-beat embedding (the head's dropout).
EMBEDDING_OF = "head_dropout"


class ReceptiveFieldError(TrialFailedError):
    """The TCN's receptive field is longer than the beat window it would see."""


def _filters(base: int, width: float) -> int:
    return max(4, int(round(base * float(width))))


def check_receptive_field(params: dict, n_window: int, model: str = "tcn") -> int:
    """Raise :class:`ReceptiveFieldError` if the window (in samples) is shorter than the receptive field."""
    rf = receptive_field(params)
    if n_window < rf:
        raise ReceptiveFieldError(
            f"model {model}: beat window of {n_window} samples is shorter than the receptive field of "
            f"{rf} samples (kernel_size={params['kernel_size']}, dilations={list(parse_dilations(params['dilations']))}); "
            "use smaller dilations/kernel, a longer window or less decimation")
    return rf


def _conv_bn_relu(x, filters: int, kernel: int, l2: float, name: str, strides: int = 1, padding: str = "same",
                  dilation: int = 1):
    x = layers.Conv1D(filters, kernel, strides=strides, padding=padding, dilation_rate=dilation, use_bias=False,
                      kernel_regularizer=regularizers.L2(l2) if l2 else None, name=f"{name}_conv")(x)
    # momentum 0.9, not Keras' 0.99: a small cohort gives only tens of steps per epoch, and with 0.99 the
    # moving statistics used at inference lag far behind the batch statistics used in training.
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _head(x, params: dict, name: str = "head"):
    x = layers.Dropout(float(params["dropout"]), name=f"{name}_dropout")(x)
    return layers.Dense(1, activation="sigmoid", name=f"{name}_out")(x)


def build_cnn(input_shape: tuple[int, int], params: dict) -> keras.Model:
    """Conv1D stack 32 -> 64 -> 128 filters (times ``width``), kernel ``kernel_size`` then 3, BN, max-pool, GAP."""
    inp = keras.Input(shape=input_shape, name="beats")
    x = inp
    l2, w = float(params["l2"]), float(params["width"])
    for i, (base, k) in enumerate(zip((32, 64, 128), (int(params["kernel_size"]), 3, 3))):
        x = _conv_bn_relu(x, _filters(base, w), k, l2, name=f"block{i + 1}")
        x = layers.MaxPooling1D(2, name=f"block{i + 1}_pool")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inp, _head(x, params), name="cnn")


@keras.saving.register_keras_serializable(package="hfecg_bench")
class LeadsToBatch(layers.Layer):
    """``(batch, time, leads)`` -> ``(batch * leads, time, 1)``: each lead becomes its own sample."""

    def call(self, x):
        n_time = ops.shape(x)[1]
        return ops.reshape(ops.transpose(x, (0, 2, 1)), (-1, n_time, 1))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[1], 1)


@keras.saving.register_keras_serializable(package="hfecg_bench")
class BatchToLeads(layers.Layer):
    """``(batch * leads, embed)`` -> ``(batch, leads * embed)``: per-lead embeddings concatenated."""

    def __init__(self, n_leads: int, **kwargs):
        super().__init__(**kwargs)
        self.n_leads = int(n_leads)

    def call(self, x):
        return ops.reshape(x, (-1, self.n_leads * ops.shape(x)[-1]))

    def compute_output_shape(self, input_shape):
        return (None, self.n_leads * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "n_leads": self.n_leads}


def build_lead_branch(n_window: int, params: dict) -> keras.Model:
    """The one convolutional branch applied to every lead (shared weights): ``(time, 1)`` -> ``embed_dim``."""
    inp = keras.Input(shape=(n_window, 1), name="lead")
    x = inp
    l2, w = float(params["l2"]), float(params["width"])
    for i, (base, k) in enumerate(zip((16, 32, 64), (int(params["kernel_size"]), 3, 3))):
        # the first convolution is strided: the branch runs n_leads times per beat
        x = _conv_bn_relu(x, _filters(base, w), k, l2, name=f"lb{i + 1}", strides=2 if i == 0 else 1)
        x = layers.MaxPooling1D(2, name=f"lb{i + 1}_pool")(x)
    x = layers.GlobalAveragePooling1D(name="lb_gap")(x)
    x = layers.Dense(int(params.get("embed_dim", 128)), activation="relu", name="lb_embed",
                     kernel_regularizer=regularizers.L2(l2) if l2 else None)(x)
    return keras.Model(inp, x, name="lead_branch")


def build_leadwise_cnn(input_shape: tuple[int, int], params: dict) -> keras.Model:
    """Shared per-lead conv branch -> per-lead embedding -> concatenation -> dense head.

    Only the head's first dense layer depends on the number of leads.
    """
    n_window, n_leads = int(input_shape[0]), int(input_shape[1])
    inp = keras.Input(shape=input_shape, name="beats")
    x = LeadsToBatch(name="leads_to_batch")(inp)
    x = build_lead_branch(n_window, params)(x)
    x = BatchToLeads(n_leads, name="concat_leads")(x)
    x = layers.Dropout(float(params["dropout"]), name="embed_dropout")(x)
    l2 = float(params["l2"])
    x = layers.Dense(int(params.get("head_units", 64)), activation="relu", name="head_dense",
                     kernel_regularizer=regularizers.L2(l2) if l2 else None)(x)
    return keras.Model(inp, _head(x, params), name="leadwise_cnn")


def build_tcn(input_shape: tuple[int, int], params: dict) -> keras.Model:
    """Causal dilated residual TCN (two convolutions per block), GAP, sigmoid head.

    Raises :class:`ReceptiveFieldError` when the window is shorter than :func:`receptive_field`.
    """
    check_receptive_field(params, int(input_shape[0]))
    inp = keras.Input(shape=input_shape, name="beats")
    f, k, l2 = _filters(32, params["width"]), int(params["kernel_size"]), float(params["l2"])
    drop = float(params["dropout"])
    x = inp
    for i, d in enumerate(parse_dilations(params["dilations"])):
        name = f"res{i + 1}_d{d}"
        y = _conv_bn_relu(x, f, k, l2, name=f"{name}a", padding="causal", dilation=d)
        y = layers.SpatialDropout1D(drop, name=f"{name}a_drop")(y)
        y = _conv_bn_relu(y, f, k, l2, name=f"{name}b", padding="causal", dilation=d)
        y = layers.SpatialDropout1D(drop, name=f"{name}b_drop")(y)
        if x.shape[-1] != f:
            x = layers.Conv1D(f, 1, name=f"{name}_skip")(x)
        x = layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, y]))
    # average and max over time: a short QRS-localised feature is diluted by the average alone
    x = layers.Concatenate(name="pool")([layers.GlobalAveragePooling1D(name="gap")(x),
                                         layers.GlobalMaxPooling1D(name="gmp")(x)])
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="pool_bn")(x)
    return keras.Model(inp, _head(x, params), name="tcn")


def build_lstm(input_shape: tuple[int, int], params: dict) -> keras.Model:
    """Two conv layers (local features, e.g. HF energy), max-pooled to about ``lstm_steps`` steps, then a BiLSTM.

    ``lstm_pool``: ``last`` (default) feeds the head the BiLSTM's final states; ``avgmax`` its outputs at
    every step, averaged and max-pooled over time (the TCN's pooling).
    """
    n_window = int(input_shape[0])
    pool = max(1, int(round(n_window / int(params.get("lstm_steps", 50)))))
    inp = keras.Input(shape=input_shape, name="beats")
    l2, w = float(params["l2"]), float(params["width"])
    x = _conv_bn_relu(inp, _filters(32, w), int(params["kernel_size"]), l2, name="feat1")
    x = _conv_bn_relu(x, _filters(32, w), 3, l2, name="feat2")
    x = layers.MaxPooling1D(pool, name="downsample")(x)
    pooled = params.get("lstm_pool", "last") != "last"
    x = layers.Bidirectional(layers.LSTM(_filters(32, w), return_sequences=pooled,
                                         kernel_regularizer=regularizers.L2(l2) if l2 else None), name="bilstm")(x)
    if pooled:
        x = layers.Concatenate(name="pool")([layers.GlobalAveragePooling1D(name="gap")(x),
                                             layers.GlobalMaxPooling1D(name="gmp")(x)])
    return keras.Model(inp, _head(x, params), name="lstm")


_BUILDERS = {"cnn": build_cnn, "leadwise_cnn": build_leadwise_cnn, "tcn": build_tcn, "lstm": build_lstm}


@keras.saving.register_keras_serializable(package="hfecg_bench")
class BagToBatch(layers.Layer):
    """``(batch, bag, time, leads)`` -> ``(batch * bag, time, leads)``: every instance through the same body."""

    def call(self, x):
        return ops.reshape(x, (-1, ops.shape(x)[2], ops.shape(x)[3]))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[2], input_shape[3])


@keras.saving.register_keras_serializable(package="hfecg_bench")
class BatchToBag(layers.Layer):
    """``(batch * bag, embed)`` -> ``(batch, bag, embed)``."""

    def __init__(self, bag: int, **kwargs):
        super().__init__(**kwargs)
        self.bag = int(bag)

    def call(self, x):
        return ops.reshape(x, (-1, self.bag, ops.shape(x)[-1]))

    def compute_output_shape(self, input_shape):
        return (None, self.bag, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "bag": self.bag}


@keras.saving.register_keras_serializable(package="hfecg_bench")
class AttentionPool(layers.Layer):
    """Attention pooling over the instances of a bag (Ilse et al. 2018): ``(batch, bag, embed)`` -> ``(batch, embed)``
    with weights ``softmax_bag(w . tanh(V h))``."""

    def __init__(self, units: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.score_hidden = layers.Dense(self.units, activation="tanh", name="att_hidden")
        self.score_out = layers.Dense(1, name="att_score")

    def call(self, h):
        a = ops.softmax(self.score_out(self.score_hidden(h)), axis=1)      # (batch, bag, 1)
        return ops.sum(h * a, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def build_mil(base: keras.Model, bag: int, params: dict, pooling: str = "mean") -> keras.Model:
    """Multiple-instance model: a bag ``(bag, n_window, n_leads)`` of one patient's beats -> ``base``'s per-beat
    embedding -> mean or attention pooling -> dropout -> one sigmoid output for the patient."""
    n_window, n_leads = base.input_shape[1], base.input_shape[2]
    body = keras.Model(base.inputs, base.get_layer(EMBEDDING_OF).input, name=f"{base.name}_body")
    inp = keras.Input(shape=(int(bag), n_window, n_leads), name="bags")
    h = BatchToBag(bag, name="to_bags")(body(BagToBatch(name="instances")(inp)))
    z = layers.GlobalAveragePooling1D(name="mean_pool")(h) if pooling == "mean" else AttentionPool(name="att_pool")(h)
    return keras.Model(inp, _head(z, params, name="bag_head"), name=f"{base.name}_mil")


def build_model(name: str, input_shape: Sequence[int], params: dict, lead_names=None, mil: str = "none") -> keras.Model:
    """Build one deep model by name (``cnn``, ``leadwise_cnn``, ``tcn``, ``lstm``, ``shallow_hf``).

    ``input_shape`` is ``(n_window, n_leads)``, or ``(bag, n_window, n_leads)`` with ``mil`` ``mean`` or
    ``attention`` (:func:`build_mil`). ``lead_names`` (``shallow_hf``) place leads in coronary territories.
    """
    configure_tensorflow()
    if name not in MODEL_NAMES:
        raise ParameterError("model", name, f"must be one of {', '.join(MODEL_NAMES)}")
    shape = tuple(int(s) for s in input_shape)
    bag = None
    if mil != "none":
        if len(shape) != 3:
            raise ParameterError("input_shape", shape, "must be (bag, n_window, n_leads) for multiple-instance training")
        bag, shape = shape[0], shape[1:]
    if len(shape) != 2 or min(shape) < 1:
        raise ParameterError("input_shape", tuple(input_shape), "must be (n_window, n_leads) with both >= 1")
    if name == "shallow_hf":
        from hfecg_bench.models.shallow_hf import build_shallow_hf

        base = build_shallow_hf(shape, params, lead_names)
    else:
        base = _BUILDERS[name](shape, params)
    return base if bag is None else build_mil(base, bag, params, mil)


def count_params(model: keras.Model) -> int:
    """Total number of parameters (trainable and not) of a built model."""
    return int(sum(int(np.prod(v.shape)) for v in model.weights))
