"""Names from Kargo's API that the webhook decides on (akuity/kargo, api/v1alpha1)."""

from typing import Final

GROUP: Final = "kargo.akuity.io"
VERSION: Final = "v1alpha1"

PROJECT_CONFIG_KIND: Final = "ProjectConfig"
PROJECT_CONFIG_RESOURCE: Final = "projectconfigs"
PROMOTION_KIND: Final = "Promotion"
PROMOTION_RESOURCE: Final = "promotions"
# Not decided on by the webhook; `check` reads Stages to explain which policy governs each.
STAGE_KIND: Final = "Stage"

# The annotation the rollback controller sets on the Promotions it creates. Kargo reads it as a
# rollback (`ctx.meta.promotion.rollback`) only when the value is exactly "true".
ROLLBACK_ANNOTATION: Final = "kargo.akuity.io/rollback"
ROLLBACK_ANNOTATION_TRUE: Final = "true"

# Kargo's chart names the controller's ServiceAccount `kargo-controller` in the `kargo` namespace.
DEFAULT_CONTROLLER_USERNAME: Final = "system:serviceaccount:kargo:kargo-controller"

# Webhook paths, on the convention of Kargo's own webhooks (controller-runtime's generated paths).
PROJECT_CONFIG_VALIDATE_PATH: Final = "/validate-kargo-akuity-io-v1alpha1-projectconfig"
PROMOTION_MUTATE_PATH: Final = "/mutate-kargo-akuity-io-v1alpha1-promotion"
PROMOTION_VALIDATE_PATH: Final = "/validate-kargo-akuity-io-v1alpha1-promotion"
