"""Media: resumable uploads, FFmpeg HLS transcoding, signed adaptive delivery, captions, beacons."""
