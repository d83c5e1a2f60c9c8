package io.github.vlm4j;

/**
 * Receives progress of long-running tasks: loading a model ({@link
 * VisionLanguageModel.Builder#progress(ProgressListener)}), encoding a demo pool ({@link
 * DemoPool#fromFolder(VisionLanguageModel, java.nio.file.Path, RequestOptions, ProgressListener)}).
 *
 * <p>Called on the thread doing the work, in order, before each step starts and once more when the
 * task has finished; keep it fast (hand slow work such as drawing to another thread). An exception
 * thrown by the listener aborts the task: the load or pool fails with that exception, and whatever
 * was opened so far is closed. One listener may serve several tasks on several threads at once only
 * if it is thread-safe itself.
 */
@FunctionalInterface
public interface ProgressListener {
  /** A listener that ignores every event. */
  ProgressListener NONE = p -> { };

  /**
   * Receives one progress event.
   *
   * @param progress the step about to start, or the final event ({@link Progress#finished()})
   */
  void onProgress(Progress progress);
}
