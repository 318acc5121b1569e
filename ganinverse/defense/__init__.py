"""The robust-manifold defense: project onto the range of G, classify; attacks that know it."""

from .adaptive import (
    BPDA,
    LATENT_ATTACK,
    LatentAttack,
    OverpoweredAttack,
    OverpoweredResult,
    RestartEOTPGD,
    bpda_pgd,
    unrolled_pgd,
)
from .attacks import FGSM, PGD, Attack, AttackChecks, CarliniWagnerL2, margin_loss
from .evaluate import AttackSpec, EvalSettings, Row, evaluate_defense, parse_attacks
from .projection import DEFENSE_GAN, ProjectionDefense, UnrolledProjection, unrolled_projection
from .registry import (
    AttackContext,
    AttackRecord,
    attack_record,
    register_attack,
    registered_attacks,
    unregister_attack,
)
from .training import AdversarialAugment, adversarial_training, project_images

__all__ = [
    "BPDA",
    "DEFENSE_GAN",
    "FGSM",
    "LATENT_ATTACK",
    "PGD",
    "AdversarialAugment",
    "Attack",
    "AttackChecks",
    "AttackContext",
    "AttackRecord",
    "AttackSpec",
    "CarliniWagnerL2",
    "EvalSettings",
    "LatentAttack",
    "OverpoweredAttack",
    "OverpoweredResult",
    "ProjectionDefense",
    "RestartEOTPGD",
    "Row",
    "UnrolledProjection",
    "adversarial_training",
    "attack_record",
    "bpda_pgd",
    "evaluate_defense",
    "margin_loss",
    "parse_attacks",
    "project_images",
    "register_attack",
    "registered_attacks",
    "unregister_attack",
    "unrolled_pgd",
    "unrolled_projection",
]
