#!/usr/bin/env bash
# ComfyUI for the node pack's tests (tests/test_comfyui.py), as a user installs it: ComfyUI's
# source in .comfyui/ComfyUI, its own Python in .comfyui/venv with ComfyUI's requirements and
# inceptionism installed into it. The pack itself is linked into a custom_nodes folder by the
# tests (integrations/comfyui/README.md says how a user does it).
#
# The source comes from ../shared/comfyui/ where that exists (this project's machines), else
# the same release from ComfyUI's public repository.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="0.8.0"
DIR=.comfyui
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"
SHARED=../shared/comfyui/comfyui-$VERSION-src.tar.gz

if [ "$(cat "$DIR/ComfyUI/.inceptionism-version" 2>/dev/null)" != "$VERSION" ]; then
    rm -rf "$DIR/ComfyUI" "$DIR/unpack"
    mkdir -p "$DIR/unpack"
    if [ -f "$SHARED" ]; then
        tar xzf "$SHARED" -C "$DIR/unpack"                     # holds comfy/
    else
        echo "fetching ComfyUI $VERSION from its public repository" >&2
        curl -fsSL "https://github.com/comfyanonymous/ComfyUI/archive/refs/tags/v$VERSION.tar.gz" | tar xz -C "$DIR/unpack"
    fi
    mv "$DIR"/unpack/* "$DIR/ComfyUI"
    rmdir "$DIR/unpack"
    echo "$VERSION" > "$DIR/ComfyUI/.inceptionism-version"
fi
if [ ! -x "$DIR/venv/bin/python" ]; then
    "$PYTHON" -m venv "$DIR/venv"
fi
# No torchaudio build matches the pinned torch, and ComfyUI needs it only for sound; its page
# manager imports requests without listing it.
grep -v '^torchaudio' "$DIR/ComfyUI/requirements.txt" > "$DIR/requirements.txt"
# shellcheck disable=SC2086  # TORCH_SPEC is a list of requirements
"$DIR/venv/bin/python" -m pip install --quiet $TORCH_SPEC -r "$DIR/requirements.txt" requests -e .
