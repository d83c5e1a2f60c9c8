package io.github.vlm4j.spark;

import io.github.vlm4j.Demo;
import io.github.vlm4j.GenerationSession;
import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.InferenceException;
import io.github.vlm4j.core.VlmInputException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * Runs a partition through this executor's model, group by group: up to {@code groupSize} rows at a
 * time run concurrently (so they share decoder steps) and are emitted in input order before the
 * next group is read. Memory is bounded by one group, whatever the partition's size.
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
    return new Groups(rows, model, demoSet, demoList);
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

  /** Pulls one group of input rows at a time, runs it, and hands out its results in order. */
  private final class Groups implements Iterator<Row> {
    private final Iterator<Row> in;
    private final VisionLanguageModel model;
    private final FewShotDemos demoSet;
    private final List<Demo> demoList;
    private final ArrayDeque<Row> ready = new ArrayDeque<>();
    private final List<GenerationSession> running = new CopyOnWriteArrayList<>();

    Groups(Iterator<Row> in, VisionLanguageModel model, FewShotDemos demoSet, List<Demo> demoList) {
      this.in = in;
      this.model = model;
      this.demoSet = demoSet;
      this.demoList = demoList;
    }

    @Override
    public boolean hasNext() {
      if (ready.isEmpty() && in.hasNext()) {
        runGroup();
      }
      return !ready.isEmpty();
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return ready.poll();
    }

    private void runGroup() {
      List<Row> group = new ArrayList<>(groupSize);
      while (group.size() < groupSize && in.hasNext()) {
        group.add(in.next());
      }
      if (group.size() == 1) {
        ready.add(process(group.get(0), model, demoSet, demoList, running));
        return;
      }
      List<Future<Row>> futures = new ArrayList<>(group.size());
      for (Row r : group) {
        futures.add(ExecutorModels.rowThreads().submit(() -> process(r, model, demoSet, demoList, running)));
      }
      try {
        for (Future<Row> f : futures) {
          ready.add(f.get());
        }
      } catch (InterruptedException e) {
        running.forEach(GenerationSession::cancel);    // the task was killed: stop the group's requests
        futures.forEach(f -> f.cancel(true));
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while rows of the group were running", e);
      } catch (ExecutionException e) {
        running.forEach(GenerationSession::cancel);
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
  }
}
