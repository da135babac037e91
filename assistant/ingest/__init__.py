"""Text in, chunks out: PDF and text reading, cleaning, principle and letter recognition, chunking."""
