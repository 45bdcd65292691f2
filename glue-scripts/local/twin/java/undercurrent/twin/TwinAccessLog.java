package undercurrent.twin;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * The twin's access log: one JSON object a line, one line for each AWS API request (action on one
 * resource) that a Glue job's call stands for. {@link LocalS3FileSystem} records S3 requests and
 * {@link TwinGlueCatalog} Glue Data Catalog requests, both into the file named by the Hadoop conf
 * {@value #LOG}.
 *
 * <p>A line is {@code {"principal": ..., "run": ..., "op": ..., "action": ..., "resource": ...}},
 * plus {@code "prefix"} for {@code s3:ListBucket} (the {@code s3:prefix} IAM evaluates), written
 * exactly as Python's {@code json.dumps} writes that dict. Lines are appended whole (one write of
 * one line, synchronized, flushed) so that the file system's threads and the catalog share it.
 */
public final class TwinAccessLog {
  /** Hadoop conf: the file the lines are appended to (no log when unset). */
  public static final String LOG = "undercurrent.twin.access.log";
  /** Hadoop conf: who makes the requests (e.g. the job's role ARN). */
  public static final String PRINCIPAL = "undercurrent.twin.principal";
  /** Hadoop conf: the run the requests belong to. */
  public static final String RUN = "undercurrent.twin.run";
  /** Hadoop conf: the ARN partition ({@code aws} unless set). */
  public static final String PARTITION = "undercurrent.twin.partition";
  /** Hadoop conf: the region of Glue ARNs. */
  public static final String REGION = "undercurrent.twin.region";
  /** Hadoop conf: the account of Glue ARNs. */
  public static final String ACCOUNT = "undercurrent.twin.account";

  private static final Map<Path, OutputStream> STREAMS = new HashMap<>();

  private final OutputStream out;
  private final String principal;
  private final String run;
  private final String partition;

  private TwinAccessLog(OutputStream out, String principal, String run, String partition) {
    this.out = out;
    this.principal = principal;
    this.run = run;
    this.partition = partition;
  }

  /** The log that {@code conf} names, or {@code null} when {@value #LOG} is unset. */
  public static TwinAccessLog fromConf(Configuration conf) throws IOException {
    String file = conf == null ? null : conf.getTrimmed(LOG);
    if (file == null || file.isEmpty()) {
      return null;
    }
    Path path = Paths.get(file).toAbsolutePath().normalize();
    OutputStream stream;
    synchronized (STREAMS) {
      stream = STREAMS.get(path);
      if (stream == null) {
        if (path.getParent() != null) {
          Files.createDirectories(path.getParent());
        }
        stream = new FileOutputStream(path.toFile(), true);
        STREAMS.put(path, stream);
      }
    }
    return new TwinAccessLog(
        stream, conf.get(PRINCIPAL, ""), conf.get(RUN, ""), conf.get(PARTITION, "aws"));
  }

  /** The ARN partition (e.g. {@code aws}, {@code aws-cn}). */
  public String partition() {
    return partition;
  }

  /** Appends one line; {@code prefix} is left out when {@code null}. */
  public void record(String op, String action, String resource, String prefix) {
    StringBuilder line = new StringBuilder(160);
    line.append('{');
    field(line, "principal", principal).append(", ");
    field(line, "run", run).append(", ");
    field(line, "op", op).append(", ");
    field(line, "action", action).append(", ");
    field(line, "resource", resource);
    if (prefix != null) {
      line.append(", ");
      field(line, "prefix", prefix);
    }
    line.append("}\n");
    byte[] bytes = line.toString().getBytes(StandardCharsets.UTF_8);
    synchronized (out) {
      try {
        out.write(bytes);
        out.flush();
      } catch (IOException e) {
        throw new UncheckedIOException("twin access log: cannot append", e);
      }
    }
  }

  private static StringBuilder field(StringBuilder line, String name, String value) {
    quote(line, name).append(": ");
    return quote(line, value == null ? "" : value);
  }

  /** A JSON string as Python's json.dumps (ensure_ascii) writes it. */
  private static StringBuilder quote(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          b.append("\\\"");
          break;
        case '\\':
          b.append("\\\\");
          break;
        case '\n':
          b.append("\\n");
          break;
        case '\r':
          b.append("\\r");
          break;
        case '\t':
          b.append("\\t");
          break;
        case '\b':
          b.append("\\b");
          break;
        case '\f':
          b.append("\\f");
          break;
        default:
          if (c < 0x20 || c > 0x7e) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
      }
    }
    return b.append('"');
  }
}
