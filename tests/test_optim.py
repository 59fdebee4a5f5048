"""Our optimisers against torch.optim's: the same path on the same problem."""

import pytest
import torch

from brushwork import optim


def _problem(seed: int = 0):
    """A badly conditioned smooth loss of one image-shaped tensor (curvature varies 100x)."""
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(1, 3, 8, 8, generator=g)
    scale = torch.logspace(-1, 1, target.numel()).view_as(target)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (scale * (x - target) ** 2).sum() + 0.1 * (x**4).sum()

    return loss, torch.rand(1, 3, 8, 8, generator=g)


def _path(make_opt, torch_opt: bool, steps: int = 30) -> list[float]:
    loss_fn, x0 = _problem()
    x = x0.clone().requires_grad_(True)
    opt = make_opt(x)
    losses = []

    def closure():
        if torch_opt:
            opt.zero_grad()
        else:
            x.grad = None
        value = loss_fn(x)
        value.backward()
        return value

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return losses


def test_lbfgs_takes_torchs_path():
    """With the safeguard on (the default): on a well-behaved problem nothing is rejected."""
    made = []
    ours = _path(lambda x: made.append(optim.LBFGS(x, lr=1.0, history=5)) or made[0],
                 torch_opt=False)
    assert made[0].rejections == 0
    theirs = _path(lambda x: torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=5,
                                               tolerance_grad=0.0, tolerance_change=0.0),
                   torch_opt=True)
    assert ours[-1] < ours[0] / 10  # it does optimise
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=1e-4, atol=1e-6)


def test_adam_takes_torchs_path():
    ours = _path(lambda x: optim.Adam(x, lr=0.05), torch_opt=False)
    theirs = _path(lambda x: torch.optim.Adam([x], lr=0.05), torch_opt=True)
    assert ours[-1] < ours[0]
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=1e-5, atol=1e-6)


def test_lbfgs_stays_put_at_a_zero_gradient():
    x = torch.zeros(4, requires_grad=True)
    opt = optim.LBFGS(x)

    def closure():
        x.grad = None
        value = (x * 0).sum()
        value.backward()
        return value

    for _ in range(3):
        opt.step(closure)
    assert torch.equal(x.detach(), torch.zeros(4))


def test_optimisers_do_not_import_dynamo():
    """Start-up: torch.optim's constructors import torch._dynamo (about 2 s); ours must not."""
    import subprocess
    import sys

    code = ("import sys, torch; from brushwork import optim; x = torch.ones(3, requires_grad=True);"
            "optim.LBFGS(x); optim.Adam(x); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lbfgs_rejects_an_exploding_step_and_retries_it_shorter():
    """A step whose loss is far above the best goes back to where it started and retries a
    tenth as far along the same direction; each try is one evaluation."""
    x = torch.tensor([3.0, -2.0], requires_grad=True)
    opt = optim.LBFGS(x, lr=1.0, history=5)
    cliff = {"on": False}
    seen = []

    def closure():
        x.grad = None
        value = (x**4).sum() * (1e6 if cliff["on"] else 1.0)  # far from solved in 3 steps
        value.backward()
        seen.append(x.detach().clone())
        return value

    for _ in range(3):
        opt.step(closure)
    start, stepped_to = seen[-1], x.detach().clone()  # the last accepted point, and where it went
    cliff["on"] = True
    opt.step(closure)  # evaluated at stepped_to: explodes, rejected
    assert opt.rejections == 1
    torch.testing.assert_close(x.detach(), start + 0.1 * (stepped_to - start))
    opt.step(closure)  # still exploding: a tenth again
    torch.testing.assert_close(x.detach(), start + 0.01 * (stepped_to - start))
    cliff["on"] = False
    opt.step(closure)  # fine again: accepted, and the run goes on downhill
    assert opt.rejections == 0 and float((x.detach()**4).sum()) < float((start**4).sum())


def test_lbfgs_treats_nan_as_a_rejection():
    x = torch.tensor([1.0, 1.0], requires_grad=True)
    opt = optim.LBFGS(x)
    nan = {"on": False}

    def closure():
        x.grad = None
        value = (x**2).sum() * (float("nan") if nan["on"] else 1.0)
        value.backward()
        return value

    opt.step(closure)
    nan["on"] = True
    opt.step(closure)
    assert opt.rejections == 1 and torch.isfinite(x).all()


@pytest.mark.parametrize("kind", ["pyramid", "decorrelated"])
def test_a_parameterization_gives_the_start_picture_back_and_pulls_the_true_gradient(kind):
    from brushwork.parameterize import Parameterization

    start = torch.rand(1, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    p = Parameterization(kind, start.clone().requires_grad_(True))
    assert torch.allclose(p.picture(), start, atol=1e-5)
    weights = torch.rand(start.shape, generator=torch.Generator().manual_seed(1))
    x = p.picture().detach().requires_grad_(True)
    (x * weights).sum().backward()
    p.pull(x.grad)
    q = p.q.detach().clone().requires_grad_(True)
    (p.picture_of(q) * weights).sum().backward()
    assert torch.allclose(p.q.grad, q.grad, atol=1e-5)


def test_adam_averages_its_pictures_when_asked():
    x = torch.zeros(4, requires_grad=True)
    opt = optim.Adam(x, lr=0.1, average=0.9)
    seen = []
    for _ in range(5):
        def loss():
            x.grad = None
            value = ((x - 1) ** 2).sum()
            value.backward()
            return value
        opt.step(loss)
        seen.append(x.detach().clone())
    # bias-corrected: the exponential average of the pictures so far, weights 0.1 * 0.9^age
    # over their sum (1 - 0.9^5), as crowsonkb/style-transfer-pytorch's EMA
    weights = [0.1 * 0.9 ** (len(seen) - 1 - i) for i in range(len(seen))]
    expected = sum(w * x for w, x in zip(weights, seen)) / (1 - 0.9 ** len(seen))
    assert opt.mean is not None and torch.allclose(opt.mean, expected, atol=1e-6)
    assert float(opt.mean[0]) < float(seen[-1][0])  # behind the last picture, as an average is


def _warm(h_diag: float):
    """An optimiser maker for `_path`: L-BFGS warm-started with `h_diag`."""
    def make(x):
        opt = optim.LBFGS(x, history=5)
        opt.warm_start(h_diag)
        return opt
    return make


def test_a_warm_started_lbfgs_moves_at_its_first_step():
    """torch's first step (lr / |g|_1 along -g) barely moves; one warm-started with the curvature
    learnt on the problem before goes a full quasi-Newton step at once, and optimises on."""
    learner = []
    _path(lambda x: learner.append(optim.LBFGS(x, history=5)) or learner[0], torch_opt=False,
          steps=20)
    assert learner[0].curvature is not None and learner[0].curvature > 0

    cold = _path(lambda x: optim.LBFGS(x, history=5), torch_opt=False, steps=8)
    warm = _path(_warm(learner[0].curvature), torch_opt=False, steps=8)
    assert cold[0] == warm[0]  # the same start
    assert cold[1] > 0.9 * cold[0]  # torch's first step: hardly a move
    assert warm[1] < 0.3 * warm[0]  # a real step
    assert warm[-1] < 0.05 * warm[0]


@pytest.mark.parametrize("bad", [float("nan"), 0.0, -1.0, float("inf")])
def test_a_warm_start_without_a_usable_curvature_is_torchs_path(bad):
    plain = _path(lambda x: optim.LBFGS(x, history=5), torch_opt=False, steps=6)
    assert _path(_warm(bad), torch_opt=False, steps=6) == plain
