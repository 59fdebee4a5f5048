"""The two optimisers of the picture: L-BFGS (the paper's choice, via Gatys's code) and Adam.

Why our own and not `torch.optim`: constructing any `torch.optim.Optimizer` imports
`torch._dynamo` (about 2 s on a 2-core CPU, more than the whole rest of start-up), and we
optimise exactly one tensor, one evaluation per step, so each needs only a few lines.
`LBFGS` follows `torch.optim.LBFGS(max_iter=1, line_search_fn=None, tolerance_grad=0,
tolerance_change=0)` step for step; a test checks that both take the same path.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

Closure = Callable[[], torch.Tensor]


class LBFGS:
    """Limited-memory BFGS with a fixed step length, one loss evaluation per `step`, safeguarded.

    `closure` evaluates the loss at `x` and leaves its gradient in `x.grad`. The first step goes
    `lr / |g|_1` along the negative gradient (a cautious start, as in torch); later steps go `lr`
    along the two-loop L-BFGS direction built from the last `history` gradient differences.

    The safeguard (not in torch): without a line search, a bad curvature estimate can send a
    step far uphill, and the next steps build on it until the picture is noise. When the loss at
    the new point is not finite or more than `reject` times the best loss so far, the step is
    rejected: the optimiser goes back to the point it stepped from and tries again along the
    same direction at a tenth of the length. Each try costs one evaluation, like any step, and
    `rejections` counts the tries rejected in a row. `reject=None` turns the safeguard off;
    on a run where no step is rejected the path is exactly torch's.
    """

    SHRINK = 0.1

    def __init__(self, x: torch.Tensor, lr: float = 1.0, history: int = 20,
                 reject: float | None = 2.0) -> None:
        self.x, self.lr, self.history, self.reject = x, lr, history, reject
        self.best = math.inf  # the lowest loss evaluated so far
        self.rejections = 0
        # The history is allocated (and its pages touched) up front: a run that cannot hold it
        # fails at its first step, not an hour later when the history fills, and the memory a
        # run needs shows from its first step on (benchmarks/large.py measures it so).
        self._s = torch.zeros(history, x.numel(), dtype=x.dtype, device=x.device)  # steps taken
        self._y = torch.zeros_like(self._s)  # the gradient changes they caused
        self._rho = [torch.zeros(())] * history  # 1 / (y . s)
        self._order: list[int] = []  # rows of _s and _y in use, oldest first
        self._h_diag: torch.Tensor | float = 1.0  # the initial inverse Hessian's scale
        self._prev_grad: torch.Tensor | None = None
        self._d: torch.Tensor | None = None  # the last direction
        self._t: float = 0.0  # the last step length
        self._warm = False  # the first step goes by a known curvature (warm_start)

    def warm_start(self, h_diag: float) -> None:
        """Take the first step as a later one: `lr` along -h_diag g, the inverse Hessian's scale
        carried from an earlier optimisation of the same picture, instead of torch's cautious
        `lr / |g|_1` along -g, which barely moves and so costs a whole evaluation."""
        if math.isfinite(h_diag) and h_diag > 0:
            self._h_diag, self._warm = h_diag, True

    @property
    def curvature(self) -> float | None:
        """The inverse Hessian's scale learnt so far (y.s / y.y of the latest pair), or None."""
        return float(self._h_diag) if self._order else None

    @torch.no_grad()
    def step(self, closure: Closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        value = float(loss)
        if self.reject is not None and self._d is not None and not (
                value <= self.reject * self.best):  # also true for NaN
            # x is where the last step went, start + t d: move it to start + SHRINK t d.
            self.rejections += 1
            self.x.view(-1).add_(self._d, alpha=self._t * (self.SHRINK - 1))
            self._t *= self.SHRINK
            return loss
        self.rejections = 0
        self.best = min(self.best, value)
        g = self.x.grad.reshape(-1)
        if self._prev_grad is None:
            norm = float(g.abs().sum())
            if norm == 0:  # already at a stationary point: nowhere to go
                return loss
            if self._warm:
                d, t = g.mul(-float(self._h_diag)), self.lr
            else:
                d = g.neg()
                t = min(1.0, 1.0 / norm) * self.lr
        else:
            self._remember(g - self._prev_grad, self._d.mul(self._t))
            d = self._direction(g)
            t = self.lr
        if float(g.dot(d)) >= 0:  # not downhill (a zero gradient, say): stay where we are
            return loss
        self._prev_grad = g.clone()
        self._d, self._t = d, t
        self.x.view(-1).add_(d, alpha=t)
        return loss

    def _remember(self, y: torch.Tensor, s: torch.Tensor) -> None:
        ys = y.dot(s)
        if ys <= 1e-10:  # no positive curvature along s: the pair would spoil the estimate
            return
        row = self._order.pop(0) if len(self._order) == self.history else len(self._order)
        self._s[row].copy_(s)
        self._y[row].copy_(y)
        self._rho[row] = 1.0 / ys
        self._order.append(row)
        self._h_diag = ys / y.dot(y)

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        """-H g by the two-loop recursion (Nocedal and Wright, algorithm 7.4)."""
        q = g.neg()
        # The coefficients stay 0-d tensors (addcmul_ broadcasts them), so a GPU never waits here.
        alpha = {}
        for i in reversed(self._order):
            alpha[i] = self._s[i].dot(q) * self._rho[i]
            q.addcmul_(self._y[i], alpha[i], value=-1)
        r = q.mul_(self._h_diag)
        for i in self._order:
            beta = self._y[i].dot(r) * self._rho[i]
            r.addcmul_(self._s[i], alpha[i] - beta)
        return r


class Adam:
    """Adam (Kingma and Ba) with the usual betas, for one tensor."""

    def __init__(self, x: torch.Tensor, lr: float = 0.02, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, average: float | None = None) -> None:
        self.x, self.lr, self.betas, self.eps, self.average = x, lr, betas, eps, average
        self._m = torch.zeros_like(x)
        self._v = torch.zeros_like(x)
        self._n = 0
        # The iterate's exponential average (with `average` as its decay), bias-corrected as
        # crowsonkb/style-transfer-pytorch's EMA is; None when off.
        self.mean: torch.Tensor | None = None
        self._mean_raw = torch.zeros_like(x) if average else None

    @torch.no_grad()
    def step(self, closure: Closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        g = self.x.grad
        b1, b2 = self.betas
        self._n += 1
        self._m.lerp_(g, 1 - b1)
        self._v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (self._v / (1 - b2**self._n)).sqrt_().add_(self.eps)
        self.x.addcdiv_(self._m, denom, value=-self.lr / (1 - b1**self._n))
        if self._mean_raw is not None:
            self._mean_raw.lerp_(self.x, 1 - self.average)
            self.mean = self._mean_raw / (1 - self.average**self._n)
        return loss
