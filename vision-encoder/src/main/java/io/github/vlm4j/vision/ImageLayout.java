package io.github.vlm4j.vision;

/**
 * How an image was cut into frames, without the pixels: what the prompt's image expansion needs
 * (tile grid) and what the vision encoder's input shape is.
 *
 * @param frames number of frames (tiles plus global image, or 1)
 * @param height frame height
 * @param width frame width
 * @param rows tile rows (0 if not split)
 * @param cols tile columns (0 if not split)
 */
public record ImageLayout(int frames, int height, int width, int rows, int cols) {}
