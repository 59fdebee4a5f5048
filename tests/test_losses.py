import torch

from brushwork.losses import content_loss, gram, style_loss, tv_loss


def test_gram_is_feature_products_over_positions():
    f = torch.randn(1, 4, 3, 5)
    flat = f[0].reshape(4, 15)
    expected = torch.stack([torch.stack([(flat[i] * flat[j]).sum() for j in range(4)])
                            for i in range(4)]) / 15
    assert torch.allclose(gram(f), expected, atol=1e-5)


def test_style_loss_is_the_papers_E_l():
    # Paper: E_l = 1 / (4 N^2 M^2) * sum_ij (G_ij - A_ij)^2 with unnormalised Gram matrices.
    f, a = torch.randn(1, 8, 6, 7), torch.randn(1, 8, 6, 7)
    n, m = 8, 42
    g_raw, a_raw = f[0].reshape(n, m) @ f[0].reshape(n, m).T, a[0].reshape(n, m) @ a[0].reshape(n, m).T
    paper = ((g_raw - a_raw) ** 2).sum() / (4 * n**2 * m**2)
    assert torch.allclose(style_loss(f, gram(a)), paper, rtol=1e-5)


def test_content_loss_is_half_mean_squared_error():
    f, p = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)
    assert torch.allclose(content_loss(f, p), 0.5 * ((f - p) ** 2).sum() / f.numel())


def test_losses_do_not_depend_on_image_size():
    torch.manual_seed(0)
    small = torch.rand(1, 16, 8, 8)
    big = small.repeat(1, 1, 4, 4)  # the same texture over 16 times the area
    target = torch.rand(1, 16, 8, 8)
    assert torch.allclose(style_loss(small, gram(target)), style_loss(big, gram(target)), rtol=1e-4)
    assert torch.allclose(content_loss(small, target), content_loss(big, target.repeat(1, 1, 4, 4)))


def test_tv_loss_zero_for_flat_positive_for_noise():
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)) == 0
    assert tv_loss(torch.rand(1, 3, 8, 8)) > 0.05
