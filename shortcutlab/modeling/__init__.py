"""Models: tiny offline architectures, the RewardModel, batching and loading.

- `tiny.build_tiny_model` / `tiny.TINY_ARCHS`: tiny random-init real VLM architectures.
- `reward_model.RewardModel`: backbone + scalar head, last-non-pad-token pooling.
- `batching.RewardCollator`: records -> processor inputs (text-only modes, shared images).
- `loading.load_processor`: processors without torchvision (no video processor).
- `source.resolve_model_source`: what a model argument means (a run folder -> its model/).
Import the submodules directly; this package stays import-light (no torch at import).
"""
