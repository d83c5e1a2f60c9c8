/**
 * Several image encoders behind one {@link io.github.vlm4j.vision.ImageEncoder} (manifest v2 of the
 * modular layout, {@code docs/model-format.md}): each encoder has its own views (size, resize filter,
 * mean/std; several sizes for multi-scale, S2-style), takes one or more graph outputs (several
 * layers), and every output becomes a {@link io.github.vlm4j.vision.multi.FeatureGrid} that is
 * average-pooled to a common token grid and combined on channels or on tokens.
 */
package io.github.vlm4j.vision.multi;
