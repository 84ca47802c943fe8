"""The app's table of contents: one entry per page, used by ``app.py`` and the home page.

Plain data (no streamlit import), so tests can iterate it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LabPage:
    """One page of the app."""

    number: int  # 0 for home, 1–6 for the labs in lecture order
    title: str  # navigation and page title
    icon: str  # a Material icon name for the navigation
    script: str  # path of the page script relative to the repo root
    url_path: str  # the page's own URL: http://host/<url_path>
    teaches: str  # one or two sentences for the home card
    takes_image: bool = False  # offers sample photos / upload (browser tests upload one)

    @property
    def thumbnail(self) -> Path:
        return ROOT / "assets" / "thumbs" / f"{self.url_path}.png"


HOME = LabPage(0, "Home", ":material/home:", "app_pages/home.py", "home", "All labs at a glance.")

LABS: tuple[LabPage, ...] = (
    LabPage(
        1,
        "Logistic regression & gradient descent",
        ":material/trending_down:",
        "app_pages/logistic_regression.py",
        "logistic-regression",
        "P(y|x) = σ(w·x + b), the cross-entropy loss and θ ← θ − α∂L/∂θ, one step at a time. "
        "Watch a straight boundary fail on curved data — and hand-made features fix it.",
    ),
    LabPage(
        2,
        "MLP on nonlinear data",
        ":material/hub:",
        "app_pages/mlp.py",
        "mlp",
        "Hidden layers learn the features for you. Two linear layers collapse into one; "
        "zero init keeps every hidden unit identical; ReLU, tanh, σ and softplus bend the boundary.",
    ),
    LabPage(
        3,
        "Convolution & pooling",
        ":material/grid_on:",
        "app_pages/convolution.py",
        "convolution",
        "The same 3×3 weights slide over every patch of your photo: edges, blur, stride, padding, "
        "max vs mean pooling, and a calculator for shapes, receptive fields and cost.",
        takes_image=True,
    ),
    LabPage(
        4,
        "Dropout & batch norm",
        ":material/tune:",
        "app_pages/regularization.py",
        "regularization",
        "Hardcore overfitting on a few hundred digits, then L1/L2, dropout and batch norm trained "
        "side by side — with the moving averages and vanishing gradients made visible.",
    ),
    LabPage(
        5,
        "Data augmentation",
        ":material/auto_awesome_motion:",
        "app_pages/augmentation.py",
        "augmentation",
        "One image becomes many: rotate, crop, flip, jitter, add noise. A rotated cat is still a cat — "
        "and augmentation regularises training. Sound too.",
        takes_image=True,
    ),
    LabPage(
        6,
        "GoogLeNet inception explorer",
        ":material/account_tree:",
        "app_pages/inception.py",
        "inception",
        "Inside a real deep network: the inception block's four branches, why 1×1 reductions make it "
        "affordable, and the feature maps GoogLeNet computes on your photo.",
        takes_image=True,
    ),
)

PAGES: tuple[LabPage, ...] = (HOME, *LABS)
