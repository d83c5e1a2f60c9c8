package io.github.vlm4j.vision;

import io.github.vlm4j.core.VlmInputException;
import io.github.vlm4j.core.prompt.ImageInput;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;

/**
 * Run in a forked small-heap JVM by {@link DecodeBudgetTest}: {@code threads} threads each decode a
 * GIF bomb of {@code side x side} at once; prints the outcomes and exits 1 if any was an Error or
 * an untyped exception. A watchdog exits 2 after 60 s.
 */
public final class GifBombSoak {
  private GifBombSoak() {}

  public static void main(String[] args) throws Exception {
    int threads = Integer.parseInt(args[0]);
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(60_000);
        System.out.println("watchdog: still running after 60 s");
        Runtime.getRuntime().halt(2);
      } catch (InterruptedException e) {
        // done
      }
    });
    watchdog.setDaemon(true);
    watchdog.start();
    ImageDecoder decoder = new ImageDecoder();
    int failures = 0;
    for (int a = 1; a < args.length; a++) {
      failures += run(decoder, threads, Integer.parseInt(args[a]));
    }
    System.exit(failures == 0 ? 0 : 1);
  }

  private static int run(ImageDecoder decoder, int threads, int side) throws InterruptedException {
    byte[] gif = bomb(side, side);
    Map<String, Integer> outcomes = new TreeMap<>();
    CyclicBarrier start = new CyclicBarrier(threads);
    CountDownLatch done = new CountDownLatch(threads);
    int[] errors = {0};
    for (int t = 0; t < threads; t++) {
      new Thread(() -> {
        String outcome;
        try {
          start.await();
          decoder.decode(ImageInput.of(gif));
          outcome = "decoded";
        } catch (VlmInputException e) {
          outcome = e.reason().toString();
        } catch (Throwable e) {
          outcome = e.getClass().getSimpleName();
          synchronized (errors) {
            errors[0]++;
          }
        }
        synchronized (outcomes) {
          outcomes.merge(outcome, 1, Integer::sum);
        }
        done.countDown();
      }).start();
    }
    done.await();
    System.out.println("side=" + side + " bytes=" + gif.length + " outcomes=" + outcomes + " errors=" + errors[0]
        + " heapMax=" + Runtime.getRuntime().maxMemory() + " budgetPeak=" + decoder.budget().peakReserved()
        + " heapPeak=" + peakHeap());
    return errors[0];
  }

  private static long peakHeap() {
    long sum = 0;
    for (java.lang.management.MemoryPoolMXBean pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == java.lang.management.MemoryType.HEAP) {
        sum += pool.getPeakUsage().getUsed();
      }
    }
    return sum;
  }

  /**
   * A GIF of {@code w x h} whose LZW data is {@code ~(w*h/4096*3/8)+1 KiB} of zero codes: enough
   * bytes to pass the "provably truncated" check, far too few to fill the image.
   */
  static byte[] bomb(int w, int h) {
    int dataBytes = (int) ((long) w * h / 4096 * 3 / 8) + 1024;
    int blocks = (dataBytes + 254) / 255;
    ByteBuffer b = ByteBuffer.allocate(64 + blocks * 256).order(ByteOrder.LITTLE_ENDIAN);
    b.put("GIF89a".getBytes(StandardCharsets.US_ASCII));
    b.putShort((short) w).putShort((short) h).put((byte) 0x80).put((byte) 0).put((byte) 0);
    b.put(new byte[] {0, 0, 0, (byte) 255, (byte) 255, (byte) 255});
    b.put((byte) 0x2C).putShort((short) 0).putShort((short) 0).putShort((short) w).putShort((short) h).put((byte) 0);
    b.put((byte) 2);
    for (int k = 0; k < blocks; k++) {
      b.put((byte) 255);
      b.put(new byte[255]);
    }
    b.put((byte) 0).put((byte) 0x3B);
    byte[] a = new byte[b.position()];
    b.flip();
    b.get(a);
    return a;
  }
}
