"""``shallow_hf``: the learnable counterpart of HF-QRS RMS, in the manner of the Shallow ConvNet.

Schirrmeister et al. (2017) built the Shallow ConvNet for EEG as a learnable version of band-power
features: temporal filter, square, average pooling, log, linear classifier. Here the same chain
measures HF-QRS energy:

1. a small bank of temporal filters (``n_filters`` x ``filter_ms``), the same for every lead, initialised as
   Gabor band-passes spread over 150-250 Hz (the HF-QRS band) and then learned;
2. squaring and averaging over the QRS window (the crop ``hf_crop_ms`` around R), so each lead and
   filter gives an energy; with ``noise_ref`` the same energy outside the QRS (noise only: HF-QRS lives
   inside the QRS) is subtracted first, the way a noise-corrected HF-QRS RMS is measured;
3. the log, so that a relative reduction (35 % lower RMS) is a fixed offset whatever the patient's
   overall HF amplitude;
4. a small head: per-lead weights on the log energies (``per_lead``) and, with ``territory``, each
   coronary territory's mean log energy minus the other leads' (anterior V1-V4, inferior II/III/aVF,
   lateral I/aVL/V5/V6) and the lowest of these contrasts, so it can express "HF energy in the affected
   leads relative to the others"; optionally one hidden layer (``head_units``).

The model has a few hundred weights, so it cannot memorise patients the way the deep CNNs do.

Examples
--------
>>> territory_matrix(("I", "II", "V1", "V2", "X"))[0].tolist()          # lead x territory membership
[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops, regularizers

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.leads import TERRITORIES, territory_matrix  # noqa: F401  (re-exported)

EPS = 1e-3  # energy floor (scaled units, where a lead's energy is about 1): log stays finite


def gabor_bank(n_filters: int, length: int, fs: float, band=HF_BAND_HZ) -> np.ndarray:
    """Initial filters ``(length, n_filters)``: cosine at frequencies spread over ``band`` (Hz) under a
    Hann window, unit energy, so the net starts out measuring HF-QRS energy."""
    t = (np.arange(length) - (length - 1) / 2.0) / float(fs)
    freqs = np.linspace(band[0], min(band[1], 0.45 * fs), n_filters + 2)[1:-1] if n_filters > 1 else [np.mean(band)]
    w = np.hanning(length + 2)[1:-1]
    bank = np.stack([w * np.cos(2 * np.pi * f * t) for f in freqs], axis=1)
    return (bank / np.linalg.norm(bank, axis=0, keepdims=True)).astype(np.float32)


@keras.saving.register_keras_serializable(package="hfecg_bench")
class BandEnergy(layers.Layer):
    """``(batch, time, leads, filters)`` filtered signals -> ``(batch, leads, filters)`` log mean energy
    over the QRS samples ``[start, stop)``, minus (``noise_ref``) the mean energy outside them."""

    def __init__(self, start: int, stop: int, noise_ref: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop, self.noise_ref = int(start), int(stop), bool(noise_ref)

    def call(self, x):
        sq = ops.square(x)
        energy = ops.mean(sq[:, self.start:self.stop], axis=1)
        if self.noise_ref:
            n_in = self.stop - self.start
            n_all = ops.shape(sq)[1]
            outside = (ops.sum(sq, axis=1) - energy * n_in) / ops.cast(n_all - n_in, sq.dtype)
            energy = ops.relu(energy - outside)
        return ops.log(energy + EPS)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2], input_shape[3])

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop, "noise_ref": self.noise_ref}


@keras.saving.register_keras_serializable(package="hfecg_bench")
class TerritoryContrast(layers.Layer):
    """``(batch, leads, filters)`` log energies -> ``(batch, (territories + 1) * filters)``: each territory's
    mean minus the mean of the other leads, and the lowest contrast, per filter."""

    def __init__(self, membership, **kwargs):
        super().__init__(**kwargs)
        self.membership = np.asarray(membership, dtype=np.float32).tolist()
        m = np.asarray(self.membership, dtype=np.float32)
        self._inside = m / np.maximum(m.sum(axis=0, keepdims=True), 1.0)
        self._outside = (1.0 - m) / np.maximum((1.0 - m).sum(axis=0, keepdims=True), 1.0)

    def call(self, x):
        contrast = ops.einsum("blf,lg->bgf", x, self._inside - self._outside)      # (batch, G, F)
        lowest = ops.min(contrast, axis=1)
        return ops.concatenate([ops.reshape(contrast, (-1, contrast.shape[1] * contrast.shape[2])), lowest], axis=-1)

    def compute_output_shape(self, input_shape):
        g = len(self.membership[0]) if self.membership else 0
        return (input_shape[0], (g + 1) * input_shape[2])

    def get_config(self):
        return {**super().get_config(), "membership": self.membership}


def build_shallow_hf(input_shape: tuple[int, int], params: dict, lead_names=None) -> keras.Model:
    """The ``shallow_hf`` network for beats of ``input_shape`` = (n_window, n_leads).

    ``params``: ``n_filters`` (times ``width``), ``filter_ms``, ``fs`` (Hz of the input), ``qrs_window``
    ([start, stop) samples pooled; default the whole window), ``noise_ref``, ``per_lead``, ``territory``,
    ``head_units`` (0: a linear head), ``dropout``, ``l2``. ``lead_names`` place the leads in their
    territories.
    """
    n_window, n_leads = int(input_shape[0]), int(input_shape[1])
    fs = float(params.get("fs", 1000.0))
    n_filters = max(2, int(round(int(params.get("n_filters", 8)) * float(params.get("width", 1.0)))))
    length = max(3, int(round(float(params.get("filter_ms", 25.0)) * fs / 1000.0)))
    start, stop = params.get("qrs_window") or (0, n_window)
    start, stop = max(0, int(start)), min(n_window, int(stop))
    noise_ref = bool(params.get("noise_ref", True)) and (stop - start) < n_window
    l2 = float(params.get("l2", 0.0))
    reg = regularizers.L2(l2) if l2 else None

    inp = keras.Input(shape=input_shape, name="beats")
    x = layers.Reshape((n_window, n_leads, 1), name="leads_as_width")(inp)
    conv = layers.Conv2D(n_filters, (length, 1), padding="same", use_bias=False, name="temporal_filters")
    x = conv(x)                                                   # the same filters on every lead
    conv.set_weights([gabor_bank(n_filters, length, fs)[:, None, None, :]])
    x = BandEnergy(start, stop, noise_ref, name="log_energy")(x)  # (batch, leads, filters)
    feats = []
    if params.get("per_lead", True) or lead_names is None:
        feats.append(layers.Flatten(name="per_lead")(x))
    member, names = territory_matrix(lead_names if lead_names is not None else [""] * n_leads)
    if params.get("territory", True) and names:
        feats.append(TerritoryContrast(member, name="territory")(x))
    if not feats:
        feats.append(layers.Flatten(name="per_lead")(x))
    z = feats[0] if len(feats) == 1 else layers.Concatenate(name="features")(feats)
    z = layers.BatchNormalization(momentum=0.9, name="feature_bn")(z)   # log energies of very different offsets
    if int(params.get("head_units", 0)) > 0:
        z = layers.Dense(int(params["head_units"]), activation="relu", kernel_regularizer=reg, name="head_dense")(z)
    z = layers.Dropout(float(params.get("dropout", 0.0)), name="head_dropout")(z)
    out = layers.Dense(1, activation="sigmoid", kernel_regularizer=reg, name="head_out")(z)
    return keras.Model(inp, out, name="shallow_hf")
