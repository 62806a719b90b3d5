"""The deployment config (config/hotline.yaml), in three layers: the file's format
(schema.py, and the sections' modules it names), the deployment the rest of the service
reads (deployment.py), and reading and checking the file (loading.py, checks.py).
``hotline.config.settings`` holds the HOTLINE_* environment settings.

The names below are here for callers that still import them from the package; new code
imports them from the module that defines them.
"""

from hotline.config.deployment import Deployment, Organisation, Policy, Retention, Rules, Webhook
from hotline.config.loading import ConfigError, load, parse

__all__ = [
    "ConfigError",
    "Deployment",
    "Organisation",
    "Policy",
    "Retention",
    "Rules",
    "Webhook",
    "load",
    "parse",
]
