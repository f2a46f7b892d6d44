"""Video analytics: watch-through, re-watched segments and playback quality per video lesson."""
