package io.github.vlm4j.spark;

import io.github.vlm4j.VisionLanguageModel;
import io.github.vlm4j.core.ModelLoadException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;

/**
 * One local[2] Spark session per test JVM (loopback only, no UI), the kit's tiny model loaded
 * directly (the reference the transformations are compared with) and its pictures.
 */
final class TestSpark {
  private static SparkSession spark;
  private static VisionLanguageModel direct;

  private TestSpark() {}

  static Path root() {
    return Path.of(System.getProperty("vlm4j.root", "../..")).toAbsolutePath().normalize();
  }

  static Path tinyModel() {
    return root().resolve("src/test/resources/models/vlm4j-tiny-idefics3");
  }

  static Path inspection() {
    return root().resolve("src/test/resources/fewshot/inspection");
  }

  static synchronized SparkSession spark() {
    if (spark == null) {
      String tmp = System.getProperty("java.io.tmpdir");
      spark = SparkSession.builder().master("local[2]").appName("vlm4j-spark-tests")
          .config("spark.ui.enabled", "false")
          .config("spark.driver.host", "127.0.0.1")
          .config("spark.driver.bindAddress", "127.0.0.1")
          .config("spark.sql.shuffle.partitions", "4")
          .config("spark.local.dir", tmp + "/spark-local")
          .config("spark.sql.warehouse.dir", tmp + "/spark-warehouse")
          .getOrCreate();
    }
    return spark;
  }

  /** @return the tiny model loaded outside Spark with the library's defaults */
  static synchronized VisionLanguageModel directModel() {
    if (direct == null) {
      try {
        direct = VisionLanguageModel.load(tinyModel());
      } catch (ModelLoadException e) {
        throw new IllegalStateException(e);
      }
    }
    return direct;
  }

  /** @return every PNG under a folder, sorted */
  static List<Path> pngs(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] read(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
