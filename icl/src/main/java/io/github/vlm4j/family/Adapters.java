package io.github.vlm4j.family;

import io.github.vlm4j.core.ModelLoadException;
import io.github.vlm4j.core.model.ModelFolder;
import io.github.vlm4j.core.onnx.OnnxFileInfo;
import io.github.vlm4j.projector.AdapterInfo;

/** Helpers to describe adapter graphs. */
public final class Adapters {
  private Adapters() {}

  /**
   * Describes an adapter graph.
   *
   * @param name adapter name
   * @param description what it is for
   * @param folder folder holding the graph
   * @param file graph file
   * @param usesQuery whether it is gated on the text query
   * @return its description, with parameter and byte counts read from the file (-1 if unknown)
   * @throws ModelLoadException if the file cannot be read as ONNX
   */
  public static AdapterInfo info(String name, String description, ModelFolder folder, String file, boolean usesQuery)
      throws ModelLoadException {
    var path = folder.path(file);
    if (path.isEmpty()) {
      return new AdapterInfo(name, description, folder.describe(file), -1, -1, usesQuery);
    }
    OnnxFileInfo info = OnnxFileInfo.read(path.get());
    return new AdapterInfo(name, description, path.get().toString(), info.parameterCount(), info.weightBytes(), usesQuery);
  }
}
