"""The one public way to generate: :class:`TextToVideoPipeline`."""

from tessera.pipeline.pipeline import PipelineConfig, TextToVideoPipeline, VideoPipelineOutput

__all__ = ["PipelineConfig", "TextToVideoPipeline", "VideoPipelineOutput"]
