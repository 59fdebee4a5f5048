import torch

from brushwork.losses import content_loss, gram, relative_style_loss, style_loss, tv_loss


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


def test_relative_style_loss_is_the_gram_distance_over_the_paintings_energy():
    f, t = torch.randn(1, 8, 6, 5), torch.randn(1, 8, 6, 5)
    a = gram(t)
    expected = ((gram(f) - a) ** 2).sum() / (a**2).sum()
    assert torch.allclose(relative_style_loss(f, a), expected)
    # 4 E_l / mean(A^2): the paper's loss with a per-painting layer weight
    assert torch.allclose(relative_style_loss(f, a), 4 * style_loss(f, a) / (a**2).mean())
    # a louder painting (all activations x3) is as far away in relative terms as before
    assert torch.allclose(relative_style_loss(3 * f, gram(3 * t)), expected, rtol=1e-4)


def test_default_style_layer_weights_damp_the_deep_blocks():
    from brushwork.prepare import layer_weights as _layer_weights

    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    w = _layer_weights((), layers)
    assert abs(sum(w) - 1) < 1e-9 and w[0] == w[1] == w[2] > w[3] > w[4]
    assert _layer_weights((1, 1, 1, 1, 1), layers) == [0.2] * 5  # the paper's equal weights
    assert _layer_weights((), ("conv1_1", "relu5_1")) == [1 / 1.1, 0.1 / 1.1]
    assert _layer_weights((), ("pool4", "pool5")) == [0.5 / 0.6, 0.1 / 0.6]
