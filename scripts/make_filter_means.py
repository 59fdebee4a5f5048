"""Regenerate src/brushwork/caffe_filter_means.pt: the paper's per-filter normalisation of the
bundled Caffe VGG-19 over the bundled example images, for both poolings. Shipping it saves about
1.5 s at every start; tests/test_weights.py checks it against a fresh computation.

    python scripts/make_filter_means.py
"""

from pathlib import Path

import torch

from brushwork.vgg import FILTER_MEANS_FILE, reference_images
from brushwork.vgg import LAYER_NAMES, VGG19Features
from brushwork.weights import load_weights

weights = load_weights("caffe")
table = {}
for pooling in ("avg", "max"):
    net = VGG19Features(weights, [LAYER_NAMES[-1]], pooling)
    for conv, mean in net.filter_means(reference_images()).items():
        table[f"{pooling}/{conv}"] = mean.clone()
torch.save(table, Path(FILTER_MEANS_FILE))
print(f"wrote {FILTER_MEANS_FILE}: {len(table)} layers")
