"""The deployment config (config/hotline.yaml), in three layers: the file's format
(schema.py, and the sections' modules it names), the deployment the rest of the service
reads (deployment.py), and reading and checking the file (loading.py, checks.py).
``hotline.config.settings`` holds the HOTLINE_* environment settings."""
