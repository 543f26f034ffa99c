"""Where the deployment files are, and the dev credentials deploy/users.acl holds."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACL_FILE = ROOT / "deploy" / "users.acl"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
# The public dev passwords whose SHA-256 hashes deploy/users.acl holds (and the
# defaults in docker-compose.yml); `pigallery redis passwords` replaces them.
DEV_PASSWORDS = {"admin": "admin-dev-only", "web": "web-dev-only", "capture": "capture-dev-only"}
# deploy/users.acl grants keys under this prefix only, so the models run under it here.
PREFIX = "pigallery"
