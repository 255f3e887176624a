"""probe(): one pass of a model over data gives correct Signals; modes and devices restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dataperf import Signals, probe


class Net(nn.Module):
    def __init__(self, d_in: int = 64, hidden: int = 16, k: int = 10, dropout: float = 0.5):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(hidden, k)

    def forward(self, x):
        return self.head(self.body(x.flatten(1).float()))


@pytest.fixture(scope="module")
def digits():
    from dataperf.datasets import load_digits

    images, labels = load_digits()
    x = torch.from_numpy(images[:300].astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels[:300])


@pytest.fixture
def net():
    torch.manual_seed(0)
    return Net()


def expected(net: Net, x: torch.Tensor):
    net.eval()
    with torch.no_grad():
        features = net.body(x.flatten(1))
        return torch.softmax(net.head(features), -1).numpy(), features.numpy()


def test_probs_embeddings_labels_match_a_manual_pass(net, digits):
    x, y = digits
    signals = probe(net, TensorDataset(x, y), batch_size=64, progress=False)
    probs, features = expected(net, x)
    assert isinstance(signals, Signals) and len(signals) == 300
    np.testing.assert_allclose(signals.probs, probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(signals.embeddings, features, rtol=1e-5, atol=1e-6)
    assert signals.labels.tolist() == y.tolist() and signals.ids.tolist() == list(range(300))
    assert signals.meta["layer"] == "head" and signals.meta["model"] == "Net"
    assert signals.mc_probs is None


def test_named_layer_gives_its_output_and_unlabelled_data_has_no_labels(net, digits):
    x, _ = digits
    signals = probe(net, TensorDataset(x), layer="body.0", batch_size=100, progress=False)
    with torch.no_grad():
        want = net.body[0](x.flatten(1)).numpy()
    np.testing.assert_allclose(signals.embeddings, want, rtol=1e-5, atol=1e-6)
    assert signals.labels is None
    with pytest.raises(ValueError, match="not a module of the model"):
        probe(net, TensorDataset(x), layer="nope", progress=False)


def test_dict_batches_and_keyword_inputs(digits):
    x, y = digits

    class KeywordNet(Net):
        def forward(self, pixels, scale):
            return super().forward(pixels * scale[:, None, None])

    torch.manual_seed(0)
    model = KeywordNet()
    items = [
        {"input": {"pixels": x[i], "scale": torch.tensor(1.0)}, "label": y[i]} for i in range(50)
    ]
    signals = probe(model, DataLoader(items, batch_size=16), progress=False)
    np.testing.assert_allclose(signals.probs, expected(model, x[:50])[0], rtol=1e-5, atol=1e-6)
    assert signals.labels.tolist() == y[:50].tolist()


def test_modes_and_device_are_restored(net, digits):
    x, _ = digits
    net.train()
    net.head.eval()
    probe(net, TensorDataset(x[:20]), mc_samples=2, progress=False)
    assert net.training and net.body[2].training and not net.head.training
    assert next(net.parameters()).device.type == "cpu"


def test_mc_dropout_samples_vary_and_repeat_for_a_seed(net, digits):
    x, _ = digits
    data = TensorDataset(x[:40])
    a = probe(net, data, mc_samples=4, batch_size=16, progress=False, seed=1)
    b = probe(net, data, mc_samples=4, batch_size=16, progress=False, seed=1)
    assert a.mc_probs.shape == (40, 4, 10)
    np.testing.assert_allclose(a.mc_probs.sum(-1), 1.0, rtol=1e-5)
    assert np.array_equal(a.mc_probs, b.mc_probs)
    assert not np.allclose(a.mc_probs[:, 0], a.mc_probs[:, 1])  # dropout is active
    np.testing.assert_allclose(a.probs, expected(net, x[:40])[0], rtol=1e-5, atol=1e-6)
    state = torch.get_rng_state()
    probe(net, data, mc_samples=2, progress=False)
    assert torch.equal(state, torch.get_rng_state())


def test_hugging_face_style_outputs_and_probability_outputs(digits):
    x, _ = digits

    class Out:
        def __init__(self, logits):
            self.logits = logits

    class HF(Net):
        def forward(self, x):
            return Out(super().forward(x))

    class Soft(Net):
        def forward(self, x):
            return torch.softmax(super().forward(x), -1)

    torch.manual_seed(0)
    hf = HF()
    torch.manual_seed(0)
    soft = Soft()
    a = probe(hf, TensorDataset(x[:30]), progress=False)
    b = probe(soft, TensorDataset(x[:30]), outputs="probs", progress=False)
    np.testing.assert_allclose(a.probs, b.probs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m, d: probe(object(), d), TypeError, "torch.nn.Module"),
        (lambda m, d: probe(m, d, mc_samples=-1), ValueError, "mc_samples must be >= 0"),
        (lambda m, d: probe(m, d, outputs="scores"), ValueError, "outputs must be one of"),
        (lambda m, d: probe(m, [1, 2, 3][:0]), ValueError, "empty"),
        (lambda m, d: probe(m, 42), TypeError, "Dataset or a DataLoader"),
        (
            lambda m, d: probe(nn.Sequential(nn.Flatten(), nn.Linear(64, 3)), d, mc_samples=2),
            ValueError,
            "needs dropout layers",
        ),
        (lambda m, d: probe(nn.Flatten(), d), ValueError, "called no nn.Linear"),
        (
            lambda m, d: probe(m, [{"x": torch.zeros(64)}]),
            ValueError,
            "under 'input'",
        ),
    ],
)
def test_bad_input_is_a_clear_error(net, digits, call, error, match):
    x, _ = digits
    with pytest.raises(error, match=match):
        call(net, TensorDataset(x[:8]))


def test_hooks_are_removed_and_device_restored_after_an_error(digits):
    x, _ = digits

    class Breaks(Net):
        calls = 0

        def forward(self, x):
            Breaks.calls += 1
            if Breaks.calls == 2:
                raise RuntimeError("boom")
            return super().forward(x)

    model = Breaks()
    with pytest.raises(RuntimeError, match="boom"):
        probe(model, TensorDataset(x[:40]), batch_size=16, progress=False)
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training  # the mode it had before


def test_progress_bar_runs(net, digits):
    x, _ = digits
    assert len(probe(net, TensorDataset(x[:10]), batch_size=4, progress=True)) == 10


def test_torchscript_model_embeddings_come_from_its_second_output(digits):
    x, y = digits

    class TwoOutputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Linear(64, 16)
            self.head = torch.nn.Linear(16, 10)

        def forward(self, x):
            features = torch.relu(self.body(x))
            return self.head(features), features

    torch.manual_seed(0)
    eager = TwoOutputs().eval()
    scripted = torch.jit.script(eager)
    data = torch.utils.data.TensorDataset(x[:40].reshape(40, 64), y[:40])
    signals = probe(scripted, data, progress=False)
    reference = probe(eager, data, progress=False)  # the input of the last Linear
    np.testing.assert_allclose(signals.embeddings, reference.embeddings, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(signals.probs, reference.probs, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="cannot be used with a TorchScript model"):
        probe(scripted, data, layer="body", progress=False)
    logits_only = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(64, 10)))
    with pytest.warns(UserWarning, match="logits serve as embeddings"):
        assert probe(logits_only, data, progress=False).embeddings.shape == (40, 10)


def test_image_fingerprints_and_class_names_are_recorded(digits):
    from dataperf.probing import image_fingerprint

    x, y = digits
    images = x[:30, None]  # (N, 1, 8, 8)

    class Images(TensorDataset):
        classes = [f"digit {i}" for i in range(10)]

    conv = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    signals = probe(conv, Images(images, y[:30]), progress=False)
    fp = signals.fingerprints
    assert "columns" not in signals.meta  # a typed field, not user metadata
    assert fp.shape == (30, 35) and np.allclose(np.linalg.norm(fp, axis=1), 1, atol=1e-5)
    assert signals.meta["classes"][3] == "digit 3"
    # shifted (circularly) and flipped copies have the same fingerprint; other images do not
    same = image_fingerprint(torch.roll(images, 2, dims=3).flip(2))
    np.testing.assert_allclose(same.numpy(), fp, atol=1e-5)
    assert np.linalg.norm(fp[0] - fp[1]) > 0.05
    flat = probe(conv, TensorDataset(x[:30].reshape(30, 64)), layer=None, progress=False)
    assert flat.fingerprints is None  # 2-D inputs (features, token ids) get no fingerprint


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_agree_in_float32(net, digits):
    x, y = digits
    data = TensorDataset(x.reshape(len(x), -1), y)
    cpu = probe(net, data, device="cpu", progress=False)
    gpu = probe(net, data, device="cuda", autocast=False, progress=False)
    np.testing.assert_allclose(gpu.probs, cpu.probs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gpu.embeddings, cpu.embeddings, rtol=1e-4, atol=1e-5)
    bf16 = probe(net, data, device="cuda", progress=False)  # autocast: close, not equal
    assert (bf16.probs.argmax(1) == cpu.probs.argmax(1)).mean() > 0.98


def test_mc_dropout_inside_a_torchscript_model():
    """Scripted dropout layers are found (their class is RecursiveScriptModule) and sampled."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5))
            self.head = nn.Linear(16, 3)

        def forward(self, x):
            h = self.body(x)
            return self.head(h), h

    torch.manual_seed(0)
    data = [(torch.randn(6), i % 3) for i in range(12)]
    scripted = torch.jit.script(Net())
    signals = probe(scripted, data, mc_samples=4, batch_size=4)
    assert signals.mc_probs.shape == (12, 4, 3)
    assert signals.mc_probs.std(axis=1).max() > 1e-4  # the samples differ: dropout was on
    no_dropout = torch.jit.script(nn.Sequential(nn.Linear(6, 3)))
    with pytest.raises(ValueError, match="TorchScript model has none.*--mc-samples 0"):
        probe(no_dropout, data, mc_samples=2)
