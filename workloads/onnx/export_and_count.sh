#!/usr/bin/env bash
# On the GPU machine: exports ResNet-18, ResNet-50, MobileNetV2, VGG-16 and ViT-B/16 to ONNX and
# prints greenops's MACs and parameters against torchvision's published figures.
#   workloads/onnx/export_and_count.sh [--models resnet18,vgg16] [--json FILE]
# Expects greenops at bench/carry/greenops with its libraries beside it.
set -eu
cd "$(dirname "$0")/../.."
export LD_LIBRARY_PATH="$PWD/bench/carry${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec python3 workloads/onnx/export_and_count.py --greenops bench/carry/greenops "$@"
