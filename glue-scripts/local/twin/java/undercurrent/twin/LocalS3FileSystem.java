package undercurrent.twin;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.CreateFlag;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.ParentNotDirectoryException;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PathIsNotEmptyDirectoryException;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The twin's {@code s3://} file system: {@code s3://<bucket>/<key>} is the local file {@code
 * <root>/<bucket>/<key>} (root: Hadoop conf {@value #ROOT}), and every call is recorded in the
 * {@link TwinAccessLog} as the S3 requests an object-store file system makes for it.
 *
 * <p>Paths are translated explicitly over a {@link RawLocalFileSystem} (no {@code .crc} files), and
 * every status handed back carries an {@code s3://} path, so Spark only ever sees {@code s3://}. A
 * bucket is a directory under the root; a call on a bucket whose directory does not exist fails
 * like S3's NoSuchBucket ({@link NoSuchBucketException}, a {@link FileNotFoundException} naming the
 * bucket) before any request is recorded.
 *
 * <p>The request model (see {@code glue-scripts/local/twin/S3-MODEL.md} for the sources):
 *
 * <ul>
 *   <li>getFileStatus / exists / isFile / isDirectory: {@code s3:GetObject} of the key (HEAD); if it
 *       is no file, {@code s3:GetObject} of {@code <key>_$folder$} (HEAD, with folder markers) and,
 *       unless a marker answered, {@code s3:ListBucket} with prefix {@code <key>/}. The bucket root
 *       costs nothing.
 *   <li>open: {@code s3:GetObject}. create: {@code s3:GetObject} (HEAD, when not overwriting) and
 *       {@code s3:PutObject}.
 *   <li>listStatus / listFiles: {@code s3:ListBucket} with prefix {@code <key>/} (one flat listing
 *       when recursive), plus {@code s3:GetObject} (HEAD) when the path turns out to be a file.
 *   <li>mkdirs: a status probe of the path and of each parent up to the first that exists, then, with
 *       folder markers ({@value #FOLDER_MARKERS}, default true: what EMRFS does for {@code s3://}),
 *       {@code s3:PutObject} of {@code <key>_$folder$} for each directory level it creates.
 *   <li>delete: a status probe; a file is one {@code s3:DeleteObject}; a directory is {@code
 *       s3:ListBucket} then {@code s3:DeleteObject} for each object under it and each folder marker.
 *   <li>rename: status probes of source and destination, then for each object (and folder marker)
 *       a copy ({@code s3:GetObject} of the source, {@code s3:PutObject} of the destination) and
 *       {@code s3:DeleteObject} of the source, after a {@code s3:ListBucket} of a source directory.
 * </ul>
 *
 * <p>Folder markers are remembered as empty files in a sibling tree {@code <root>.folder-markers/}
 * (never inside a bucket directory), so that later calls and later runs see them as S3 would.
 */
public class LocalS3FileSystem extends FileSystem {
  /** Hadoop conf: the local directory holding one directory per bucket. */
  public static final String ROOT = "undercurrent.twin.s3.root";
  /** Hadoop conf: whether mkdirs writes EMRFS {@code <key>_$folder$} markers (default true). */
  public static final String FOLDER_MARKERS = "undercurrent.twin.s3.folder-markers";
  /** The suffix of EMRFS folder marker objects. */
  public static final String MARKER_SUFFIX = "_$folder$";

  private static final long BLOCK_SIZE = 32L << 20;
  private static final FsPermission DIR_PERMISSION = new FsPermission((short) 0777);
  private static final FsPermission FILE_PERMISSION = new FsPermission((short) 0666);

  private URI uri;
  private Path workingDir;
  private java.nio.file.Path root;
  private java.nio.file.Path markerRoot;
  private boolean folderMarkers;
  private RawLocalFileSystem local;
  private TwinAccessLog log;
  private String partition;
  private String user;

  /** S3's NoSuchBucket: the bucket's directory does not exist under the twin's root. */
  public static class NoSuchBucketException extends FileNotFoundException {
    private static final long serialVersionUID = 1L;
    private final String bucket;

    public NoSuchBucketException(String bucket, String path) {
      super("NoSuchBucket: The specified bucket does not exist: " + bucket + " (" + path + ")");
      this.bucket = bucket;
    }

    public String getBucket() {
      return bucket;
    }
  }

  /** An object key in a bucket; the key "" is the bucket's root. */
  private static final class Loc {
    final String bucket;
    final String key;

    Loc(String bucket, String key) {
      this.bucket = bucket;
      this.key = key;
    }

    boolean isRoot() {
      return key.isEmpty();
    }

    Loc child(String name) {
      return new Loc(bucket, key.isEmpty() ? name : key + "/" + name);
    }

    Loc parent() {
      int slash = key.lastIndexOf('/');
      return isRoot() ? null : new Loc(bucket, slash < 0 ? "" : key.substring(0, slash));
    }

    String name() {
      return key.substring(key.lastIndexOf('/') + 1);
    }

    /** The ListBucket prefix of the objects under this directory. */
    String dirPrefix() {
      return key.isEmpty() ? "" : key + "/";
    }

    boolean sameAs(Loc other) {
      return bucket.equals(other.bucket) && key.equals(other.key);
    }

    boolean isUnder(Loc other) {
      return bucket.equals(other.bucket)
          && (other.key.isEmpty() || key.startsWith(other.key + "/"));
    }
  }

  public LocalS3FileSystem() {}

  @Override
  public void initialize(URI name, Configuration conf) throws IOException {
    super.initialize(name, conf);
    setConf(conf);
    String bucket = name.getAuthority();
    if (bucket == null || bucket.isEmpty()) {
      throw new IOException("twin s3: the URI names no bucket: " + name);
    }
    uri = URI.create("s3://" + bucket);
    workingDir = new Path(uri.toString() + "/");
    String rootSetting = conf.getTrimmed(ROOT);
    if (rootSetting == null || rootSetting.isEmpty()) {
      throw new IOException("twin s3: " + ROOT + " is not set (the directory of the twin's buckets)");
    }
    root = Paths.get(rootSetting).toAbsolutePath().normalize();
    markerRoot = root.resolveSibling(root.getFileName() + ".folder-markers");
    folderMarkers = conf.getBoolean(FOLDER_MARKERS, true);
    local = new RawLocalFileSystem();
    local.initialize(URI.create("file:///"), conf);
    log = TwinAccessLog.fromConf(conf);
    partition = log != null ? log.partition() : conf.get(TwinAccessLog.PARTITION, "aws");
    user = System.getProperty("user.name", "twin");
  }

  @Override
  public String getScheme() {
    return "s3";
  }

  @Override
  public URI getUri() {
    return uri;
  }

  @Override
  public Path getWorkingDirectory() {
    return workingDir;
  }

  @Override
  public void setWorkingDirectory(Path dir) {
    workingDir = new Path(s3Path(loc(dir)).toString());
  }

  @Override
  @SuppressWarnings("deprecation")
  public long getDefaultBlockSize() {
    return BLOCK_SIZE;
  }

  @Override
  public long getDefaultBlockSize(Path f) {
    return BLOCK_SIZE;
  }

  /** Any bucket is this file system's: the twin's buckets all live under one root. */
  @Override
  protected void checkPath(Path path) {
    String scheme = path.toUri().getScheme();
    if (scheme != null && !scheme.equalsIgnoreCase("s3")) {
      throw new IllegalArgumentException("Wrong FS: " + path + ", expected: s3://");
    }
  }

  @Override
  public String getCanonicalServiceName() {
    return null;
  }

  // ---------------------------------------------------------------- statuses

  @Override
  public FileStatus getFileStatus(Path f) throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    FileStatus status = probe(op("getFileStatus", l), l);
    if (status == null) {
      throw new FileNotFoundException("No such file or directory: " + s3Path(l));
    }
    return status;
  }

  @Override
  public boolean exists(Path f) throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    return probe(op("exists", l), l) != null;
  }

  @Override
  @SuppressWarnings("deprecation")
  public boolean isFile(Path f) throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    FileStatus status = probe(op("isFile", l), l);
    return status != null && status.isFile();
  }

  @Override
  @SuppressWarnings("deprecation")
  public boolean isDirectory(Path f) throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    FileStatus status = probe(op("isDirectory", l), l);
    return status != null && status.isDirectory();
  }

  @Override
  public FileStatus[] listStatus(Path f) throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    String op = op("listStatus", l);
    list(op, l);
    BasicFileAttributes attributes = attributes(file(l));
    if (attributes == null) {
      if (markerOnlyDirectory(op, l)) {
        return new FileStatus[0];
      }
      throw new FileNotFoundException("No such file or directory: " + s3Path(l));
    }
    if (!attributes.isDirectory()) {
      get(op, l.bucket, l.key);
      return new FileStatus[] {status(l, attributes)};
    }
    List<FileStatus> statuses = new ArrayList<>();
    for (String name : childNames(file(l))) {
      Loc child = l.child(name);
      BasicFileAttributes childAttributes = attributes(file(child));
      if (childAttributes != null) {
        statuses.add(status(child, childAttributes));
      }
    }
    return statuses.toArray(new FileStatus[0]);
  }

  @Override
  public RemoteIterator<LocatedFileStatus> listFiles(Path f, boolean recursive)
      throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    String op = op("listFiles", l);
    list(op, l);
    BasicFileAttributes attributes = attributes(file(l));
    List<LocatedFileStatus> files = new ArrayList<>();
    if (attributes == null) {
      if (!markerOnlyDirectory(op, l)) {
        throw new FileNotFoundException("No such file or directory: " + s3Path(l));
      }
    } else if (!attributes.isDirectory()) {
      get(op, l.bucket, l.key);
      files.add(located(status(l, attributes)));
    } else if (recursive) {
      for (String relative : filesUnder(file(l))) {
        Loc child = l.child(relative);
        BasicFileAttributes childAttributes = attributes(file(child));
        if (childAttributes != null) {
          files.add(located(status(child, childAttributes)));
        }
      }
    } else {
      for (String name : childNames(file(l))) {
        Loc child = l.child(name);
        BasicFileAttributes childAttributes = attributes(file(child));
        if (childAttributes != null && !childAttributes.isDirectory()) {
          files.add(located(status(child, childAttributes)));
        }
      }
    }
    Iterator<LocatedFileStatus> it = files.iterator();
    return new RemoteIterator<LocatedFileStatus>() {
      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public LocatedFileStatus next() {
        return it.next();
      }
    };
  }

  // ---------------------------------------------------------------- data

  @Override
  public FSDataInputStream open(Path f, int bufferSize) throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    get(op("open", l), l.bucket, l.key);
    BasicFileAttributes attributes = attributes(file(l));
    if (attributes == null) {
      throw new FileNotFoundException("No such file or directory: " + s3Path(l));
    }
    if (attributes.isDirectory()) {
      throw new FileNotFoundException("Can't open " + s3Path(l) + " because it is a directory");
    }
    return local.open(localPath(l), bufferSize);
  }

  @Override
  public FSDataOutputStream create(
      Path f,
      FsPermission permission,
      boolean overwrite,
      int bufferSize,
      short replication,
      long blockSize,
      Progressable progress)
      throws IOException {
    return create("create", f, overwrite, bufferSize, replication, blockSize, progress);
  }

  @Override
  public FSDataOutputStream createNonRecursive(
      Path f,
      FsPermission permission,
      EnumSet<CreateFlag> flags,
      int bufferSize,
      short replication,
      long blockSize,
      Progressable progress)
      throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    Loc parent = l.parent();
    if (parent != null && !parent.isRoot() && attributes(file(parent)) == null) {
      throw new FileNotFoundException("Parent directory does not exist: " + s3Path(parent));
    }
    boolean overwrite = flags.contains(CreateFlag.OVERWRITE);
    return create(
        "createNonRecursive", f, overwrite, bufferSize, replication, blockSize, progress);
  }

  private FSDataOutputStream create(
      String method,
      Path f,
      boolean overwrite,
      int bufferSize,
      short replication,
      long blockSize,
      Progressable progress)
      throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    if (l.isRoot()) {
      throw new FileAlreadyExistsException("Cannot create a file at the bucket root: " + s3Path(l));
    }
    String op = op(method, l);
    if (!overwrite) {
      get(op, l.bucket, l.key);
    }
    BasicFileAttributes attributes = attributes(file(l));
    if (attributes != null && attributes.isDirectory()) {
      throw new FileAlreadyExistsException(s3Path(l) + " is a directory");
    }
    if (attributes != null && !overwrite) {
      throw new FileAlreadyExistsException(s3Path(l) + " already exists");
    }
    put(op, l.bucket, l.key);
    return local.create(localPath(l), overwrite, bufferSize, replication, blockSize, progress);
  }

  @Override
  public FSDataOutputStream append(Path f, int bufferSize, Progressable progress) {
    throw new UnsupportedOperationException("Append is not supported by S3: " + f);
  }

  // ---------------------------------------------------------------- namespace

  @Override
  public boolean mkdirs(Path f, FsPermission permission) throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    if (l.isRoot()) {
      return true;
    }
    String op = op("mkdirs", l);
    FileStatus status = probe(op, l);
    if (status != null) {
      if (status.isFile()) {
        throw new FileAlreadyExistsException("Not a directory: " + s3Path(l));
      }
      Files.createDirectories(file(l));
      return true;
    }
    List<Loc> created = new ArrayList<>();
    created.add(l);
    for (Loc parent = l.parent(); parent != null && !parent.isRoot(); parent = parent.parent()) {
      FileStatus parentStatus = probe(op, parent);
      if (parentStatus != null) {
        if (parentStatus.isFile()) {
          throw new ParentNotDirectoryException(s3Path(parent) + " is a file");
        }
        break;
      }
      created.add(parent);
    }
    Files.createDirectories(file(l));
    if (folderMarkers) {
      Collections.reverse(created);
      for (Loc level : created) {
        put(op, level.bucket, level.key + MARKER_SUFFIX);
        java.nio.file.Path marker = marker(level);
        Files.createDirectories(marker.getParent());
        if (!Files.exists(marker)) {
          Files.createFile(marker);
        }
      }
    }
    return true;
  }

  @Override
  public boolean delete(Path f, boolean recursive) throws IOException {
    Loc l = loc(f);
    requireBucket(l);
    String op = op("delete", l);
    if (l.isRoot()) {
      return false;
    }
    FileStatus status = probe(op, l);
    if (status == null) {
      return false;
    }
    if (status.isFile()) {
      delete(op, l.bucket, l.key);
      return local.delete(localPath(l), false);
    }
    java.nio.file.Path dir = file(l);
    list(op, l);
    List<String> files = Files.isDirectory(dir) ? filesUnder(dir) : Collections.emptyList();
    if (!recursive && !files.isEmpty()) {
      throw new PathIsNotEmptyDirectoryException(s3Path(l).toString());
    }
    for (String relative : files) {
      delete(op, l.bucket, l.child(relative).key);
    }
    for (String markerKey : markersUnder(l)) {
      delete(op, l.bucket, markerKey);
    }
    deleteMarkers(l);
    if (Files.exists(dir)) {
      return local.delete(localPath(l), true);
    }
    return true;
  }

  @Override
  public boolean rename(Path src, Path dst) throws IOException {
    Loc from = loc(src);
    Loc to = loc(dst);
    requireBucket(from);
    requireBucket(to);
    String op = "rename " + s3Path(from) + " -> " + s3Path(to);
    if (from.isRoot()) {
      return false;
    }
    FileStatus fromStatus = probe(op, from);
    if (fromStatus == null) {
      return false;
    }
    Loc target = to;
    FileStatus toStatus = to.isRoot() ? rootStatus(to) : probe(op, to);
    if (toStatus != null) {
      if (toStatus.isFile()) {
        return false;
      }
      target = to.child(from.name());
      if (probe(op, target) != null) {
        return false;
      }
    }
    if (target.sameAs(from) || target.isUnder(from)) {
      return false;
    }
    if (fromStatus.isFile()) {
      copyAndDelete(op, from, target);
    } else {
      list(op, from);
      java.nio.file.Path dir = file(from);
      if (Files.isDirectory(dir)) {
        for (String relative : filesUnder(dir)) {
          copyAndDelete(op, from.child(relative), target.child(relative));
        }
      }
      for (String markerKey : markersUnder(from)) {
        String suffix = markerKey.substring(from.key.length());
        Loc fromMarker = new Loc(from.bucket, markerKey);
        Loc toMarker = new Loc(target.bucket, target.key + suffix);
        copyAndDelete(op, fromMarker, toMarker);
      }
      moveMarkers(from, target);
    }
    java.nio.file.Path targetFile = file(target);
    Files.createDirectories(targetFile.getParent());
    if (!Files.exists(file(from))) {
      return true; // a directory that only had its folder marker
    }
    return local.rename(localPath(from), localPath(target));
  }

  @Override
  public void setPermission(Path p, FsPermission permission) {}

  @Override
  public void setOwner(Path p, String username, String groupname) {}

  @Override
  public void setTimes(Path p, long mtime, long atime) {}

  @Override
  public void close() throws IOException {
    try {
      super.close();
    } finally {
      if (local != null) {
        local.close();
      }
    }
  }

  // ---------------------------------------------------------------- model

  /**
   * The requests of a status probe (see the class comment), and the status, or {@code null} when
   * there is nothing at the path.
   */
  private FileStatus probe(String op, Loc l) throws IOException {
    if (l.isRoot()) {
      return rootStatus(l);
    }
    BasicFileAttributes attributes = attributes(file(l));
    get(op, l.bucket, l.key);
    if (attributes != null && !attributes.isDirectory()) {
      return status(l, attributes);
    }
    if (folderMarkers) {
      get(op, l.bucket, l.key + MARKER_SUFFIX);
      if (Files.exists(marker(l))) {
        return attributes != null ? status(l, attributes) : directoryStatus(l);
      }
    }
    list(op, l);
    return attributes != null ? status(l, attributes) : null;
  }

  /** For a path with no local file: whether a folder marker makes it an (empty) directory. */
  private boolean markerOnlyDirectory(String op, Loc l) {
    if (l.isRoot()) {
      return false;
    }
    get(op, l.bucket, l.key);
    if (!folderMarkers) {
      return false;
    }
    get(op, l.bucket, l.key + MARKER_SUFFIX);
    return Files.exists(marker(l));
  }

  private void copyAndDelete(String op, Loc from, Loc to) {
    get(op, from.bucket, from.key);
    put(op, to.bucket, to.key);
    delete(op, from.bucket, from.key);
  }

  private String op(String method, Loc l) {
    return method + " " + s3Path(l);
  }

  private void get(String op, String bucket, String key) {
    record(op, "s3:GetObject", objectArn(bucket, key), null);
  }

  private void put(String op, String bucket, String key) {
    record(op, "s3:PutObject", objectArn(bucket, key), null);
  }

  private void delete(String op, String bucket, String key) {
    record(op, "s3:DeleteObject", objectArn(bucket, key), null);
  }

  private void list(String op, Loc l) {
    record(op, "s3:ListBucket", "arn:" + partition + ":s3:::" + l.bucket, l.dirPrefix());
  }

  private String objectArn(String bucket, String key) {
    return "arn:" + partition + ":s3:::" + bucket + "/" + key;
  }

  private void record(String op, String action, String resource, String prefix) {
    if (log != null) {
      log.record(op, action, resource, prefix);
    }
  }

  // ---------------------------------------------------------------- translation

  private Loc loc(Path p) {
    URI u = p.toUri();
    if (u.getScheme() == null) {
      u = new Path(workingDir, p).toUri();
    } else if (!u.getScheme().equalsIgnoreCase("s3")) {
      throw new IllegalArgumentException("Wrong FS: " + p + ", expected: s3://");
    }
    String bucket = u.getAuthority();
    if (bucket == null || bucket.isEmpty()) {
      throw new IllegalArgumentException("twin s3: the path names no bucket: " + p);
    }
    String key = u.getPath() == null ? "" : u.getPath();
    int start = 0;
    int end = key.length();
    while (start < end && key.charAt(start) == '/') {
      start++;
    }
    while (end > start && key.charAt(end - 1) == '/') {
      end--;
    }
    key = key.substring(start, end);
    if (!key.isEmpty()) {
      for (String segment : key.split("/", -1)) {
        if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
          throw new IllegalArgumentException("twin s3: unsupported key in " + p);
        }
      }
    }
    return new Loc(bucket, key);
  }

  private Path s3Path(Loc l) {
    return new Path("s3", l.bucket, "/" + l.key);
  }

  private java.nio.file.Path file(Loc l) {
    java.nio.file.Path bucketDir = root.resolve(l.bucket);
    return l.isRoot() ? bucketDir : bucketDir.resolve(l.key);
  }

  private Path localPath(Loc l) {
    return new Path("file", null, file(l).toString());
  }

  private java.nio.file.Path marker(Loc l) {
    return markerRoot.resolve(l.bucket).resolve(l.key + MARKER_SUFFIX);
  }

  private void requireBucket(Loc l) throws NoSuchBucketException {
    if (!Files.isDirectory(root.resolve(l.bucket))) {
      throw new NoSuchBucketException(l.bucket, s3Path(l).toString());
    }
  }

  private static BasicFileAttributes attributes(java.nio.file.Path f) throws IOException {
    try {
      return Files.readAttributes(f, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  private FileStatus status(Loc l, BasicFileAttributes a) {
    boolean dir = a.isDirectory();
    return new FileStatus(
        dir ? 0 : a.size(),
        dir,
        1,
        BLOCK_SIZE,
        a.lastModifiedTime().toMillis(),
        0,
        dir ? DIR_PERMISSION : FILE_PERMISSION,
        user,
        user,
        s3Path(l));
  }

  private FileStatus directoryStatus(Loc l) {
    return new FileStatus(0, true, 1, BLOCK_SIZE, 0, 0, DIR_PERMISSION, user, user, s3Path(l));
  }

  private FileStatus rootStatus(Loc l) {
    return directoryStatus(new Loc(l.bucket, ""));
  }

  private LocatedFileStatus located(FileStatus status) throws IOException {
    return new LocatedFileStatus(status, getFileBlockLocations(status, 0, status.getLen()));
  }

  /** The names in a directory, sorted. */
  private static List<String> childNames(java.nio.file.Path dir) throws IOException {
    List<String> names = new ArrayList<>();
    try (DirectoryStream<java.nio.file.Path> entries = Files.newDirectoryStream(dir)) {
      for (java.nio.file.Path entry : entries) {
        names.add(entry.getFileName().toString());
      }
    }
    Collections.sort(names);
    return names;
  }

  /** The files under a directory, as sorted '/'-separated paths relative to it. */
  private static List<String> filesUnder(java.nio.file.Path dir) throws IOException {
    List<String> files = new ArrayList<>();
    try (Stream<java.nio.file.Path> walk = Files.walk(dir)) {
      walk.filter(Files::isRegularFile)
          .forEach(p -> files.add(dir.relativize(p).toString().replace('\\', '/')));
    }
    Collections.sort(files);
    return files;
  }

  /** The keys of the folder markers of a directory and of the directories under it, sorted. */
  private List<String> markersUnder(Loc l) throws IOException {
    List<String> keys = new ArrayList<>();
    if (!folderMarkers) {
      return keys;
    }
    if (Files.exists(marker(l))) {
      keys.add(l.key + MARKER_SUFFIX);
    }
    java.nio.file.Path tree = markerRoot.resolve(l.bucket).resolve(l.key);
    if (Files.isDirectory(tree)) {
      for (String relative : filesUnder(tree)) {
        if (relative.endsWith(MARKER_SUFFIX)) {
          keys.add(l.key + "/" + relative);
        }
      }
    }
    Collections.sort(keys);
    return keys;
  }

  private void deleteMarkers(Loc l) throws IOException {
    Files.deleteIfExists(marker(l));
    java.nio.file.Path tree = markerRoot.resolve(l.bucket).resolve(l.key);
    if (Files.isDirectory(tree)) {
      try (Stream<java.nio.file.Path> walk = Files.walk(tree)) {
        List<java.nio.file.Path> paths = new ArrayList<>();
        walk.forEach(paths::add);
        Collections.reverse(paths);
        for (java.nio.file.Path p : paths) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private void moveMarkers(Loc from, Loc to) throws IOException {
    if (Files.exists(marker(from))) {
      Files.createDirectories(marker(to).getParent());
      Files.move(marker(from), marker(to), StandardCopyOption.REPLACE_EXISTING);
    }
    java.nio.file.Path tree = markerRoot.resolve(from.bucket).resolve(from.key);
    if (Files.isDirectory(tree)) {
      java.nio.file.Path targetTree = markerRoot.resolve(to.bucket).resolve(to.key);
      for (String relative : filesUnder(tree)) {
        java.nio.file.Path target = targetTree.resolve(relative);
        Files.createDirectories(target.getParent());
        Files.move(tree.resolve(relative), target, StandardCopyOption.REPLACE_EXISTING);
      }
      try (Stream<java.nio.file.Path> walk = Files.walk(tree)) {
        List<java.nio.file.Path> paths = new ArrayList<>();
        walk.forEach(paths::add);
        Collections.reverse(paths);
        for (java.nio.file.Path p : paths) {
          Files.deleteIfExists(p);
        }
      }
    }
  }
}
