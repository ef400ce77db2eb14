"""The one public way to generate: :class:`TextToVideoPipeline`."""

from tessera.pipeline.pipeline import MAX_STEPS, PipelineConfig, TextToVideoPipeline, VideoPipelineOutput

__all__ = ["MAX_STEPS", "PipelineConfig", "TextToVideoPipeline", "VideoPipelineOutput"]
