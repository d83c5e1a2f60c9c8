package io.github.vlm4j.spark;

import io.github.vlm4j.Demo;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.VlmInputException;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * Runs a partition through this executor's model with up to {@code groupSize} rows in flight at a
 * time (running concurrently, so that they share decoder steps), emitted in input order. Memory is
 * bounded by {@code groupSize} rows, whatever the partition's size.
 */
final class PartitionRunner implements MapPartitionsFunction<Row, Row> {
  private static final long serialVersionUID = 1L;

  private final ModelSource source;
  private final RowInputs inputs;
  private final RowWork work;
  private final Broadcast<FewShotDemos> demos;
  private final VlmMetrics metrics;
  private final int groupSize;

  PartitionRunner(ModelSource source, RowInputs inputs, RowWork work, Broadcast<FewShotDemos> demos,
      VlmMetrics metrics, int groupSize) {
    this.source = source;
    this.inputs = inputs;
    this.work = work;
    this.demos = demos;
    this.metrics = metrics;
    this.groupSize = groupSize;
  }

  @Override
  public Iterator<Row> call(Iterator<Row> rows) {
    if (!rows.hasNext()) {
      return rows;
    }
    VisionLanguageModel model = ExecutorModels.model(source);
    FewShotDemos demoSet = demos == null ? null : demos.value();
    List<Demo> demoList = demoSet == null ? null : demoSet.demos();
    return new Window(rows, model, demoSet, demoList);
  }

  /** One row: its input values followed by the appended ones; input errors become error values. */
  private Row process(Row row, VisionLanguageModel model, FewShotDemos demoSet, List<Demo> demoList,
      List<GenerationSession> running) {
    Object[] appended;
    try (GenerationSession session = model.newSession()) {
      running.add(session);
      try {
        RowWork.Outcome o = work.run(session, inputs.read(row), demoSet, demoList);
        appended = o.values();
        if (metrics != null) {
          metrics.recordRow(o.usage());
        }
      } finally {
        running.remove(session);
      }
    } catch (VlmInputException e) {
      appended = failed(e.reason().name(), e.getMessage());
    } catch (InferenceException e) {
      appended = failed(VlmColumns.INFERENCE_FAILED, e.getMessage());
    }
    Object[] out = new Object[row.length() + appended.length];
    for (int i = 0; i < row.length(); i++) {
      out[i] = row.get(i);
    }
    System.arraycopy(appended, 0, out, row.length(), appended.length);
    return RowFactory.create(out);
  }

  private Object[] failed(String reason, String message) {
    if (metrics != null) {
      metrics.recordError();
    }
    return work.error(reason, message);
  }

  /**
   * Keeps up to {@code groupSize} rows of the partition in flight: a row is read and started as soon
   * as one ahead of it has been handed downstream, and results leave in input order. At most
   * {@code groupSize} rows (running or finished and waiting for an earlier one) are held at a time.
   */
  private final class Window implements Iterator<Row> {
    private final Iterator<Row> in;
    private final VisionLanguageModel model;
    private final FewShotDemos demoSet;
    private final List<Demo> demoList;
    private final ArrayDeque<Future<Row>> window = new ArrayDeque<>();
    private final List<GenerationSession> running = new CopyOnWriteArrayList<>();

    Window(Iterator<Row> in, VisionLanguageModel model, FewShotDemos demoSet, List<Demo> demoList) {
      this.in = in;
      this.model = model;
      this.demoSet = demoSet;
      this.demoList = demoList;
    }

    @Override
    public boolean hasNext() {
      fill();
      return !window.isEmpty();
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Future<Row> head = window.poll();
      try {
        return head.get();
      } catch (InterruptedException e) {
        stop(head);          // the task was killed: stop the rows in flight
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while rows of the partition were running", e);
      } catch (ExecutionException e) {
        stop(head);
        Throwable c = e.getCause();
        if (c instanceof RuntimeException r) {
          throw r;               // a closed model or a bug: fail the task rather than the row
        }
        if (c instanceof Error err) {
          throw err;
        }
        throw new IllegalStateException(c);
      }
    }

    private void fill() {
      while (window.size() < groupSize && in.hasNext()) {
        Row r = in.next();
        if (groupSize == 1) {
          FutureTask<Row> inline = new FutureTask<>(() -> process(r, model, demoSet, demoList, running));
          inline.run();        // one row at a time: on the task's own thread
          window.add(inline);
        } else {
          window.add(ExecutorModels.rowThreads().submit(() -> process(r, model, demoSet, demoList, running)));
        }
      }
    }

    private void stop(Future<Row> head) {
      running.forEach(GenerationSession::cancel);
      head.cancel(true);
      window.forEach(f -> f.cancel(true));
      window.clear();
    }
  }
}
