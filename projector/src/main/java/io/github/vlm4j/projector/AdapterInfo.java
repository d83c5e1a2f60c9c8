package io.github.vlm4j.projector;

/**
 * What a registered cross-modal adapter is.
 *
 * @param name the name requests select it by
 * @param description what it was trained for (may be empty)
 * @param file its graph file
 * @param parameters number of weight values in the graph
 * @param weightBytes bytes of those weights (the memory the adapter adds to the model)
 * @param usesQuery whether it conditions on the text query (gated) or is a plain projector
 */
public record AdapterInfo(String name, String description, String file, long parameters, long weightBytes,
    boolean usesQuery) {}
