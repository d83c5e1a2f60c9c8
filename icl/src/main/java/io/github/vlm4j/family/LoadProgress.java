package io.github.vlm4j.family;

import io.github.vlm4j.Progress;
import io.github.vlm4j.ProgressListener;

/**
 * Counts the graphs a load opens and reports each to the caller's {@link ProgressListener}
 * ({@link Progress.Task#LOAD_MODEL}). One per load, used by the loading thread only.
 */
public final class LoadProgress {
  private final ProgressListener listener;
  private int opened;

  /**
   * Creates the counter of one load.
   *
   * @param listener receives one event per graph and a final one
   */
  public LoadProgress(ProgressListener listener) {
    this.listener = listener;
  }

  /**
   * Reports that a file is about to be opened.
   *
   * @param file the file (tokenizer or graph) about to be opened, relative to the model folder
   */
  public void opening(String file) {
    listener.onProgress(new Progress(Progress.Task.LOAD_MODEL, file, opened, 0));
    opened++;
  }

  /** Reports the end of the load: every graph is open. */
  public void finished() {
    listener.onProgress(new Progress(Progress.Task.LOAD_MODEL, "", opened, opened));
  }
}
