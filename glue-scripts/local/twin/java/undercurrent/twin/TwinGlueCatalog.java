package undercurrent.twin;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.TableMetadata;
import org.apache.iceberg.TableOperations;
import org.apache.iceberg.catalog.Namespace;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.encryption.EncryptionManager;
import org.apache.iceberg.exceptions.NamespaceNotEmptyException;
import org.apache.iceberg.exceptions.NoSuchNamespaceException;
import org.apache.iceberg.exceptions.ValidationException;
import org.apache.iceberg.io.FileIO;
import org.apache.iceberg.io.LocationProvider;
import org.apache.iceberg.jdbc.JdbcCatalog;

/**
 * The twin's stand-in for {@code org.apache.iceberg.aws.glue.GlueCatalog}: Iceberg's {@link
 * JdbcCatalog} over SQLite (catalog property {@code uri} = {@code jdbc:sqlite:<file>}), which keeps
 * each table's metadata location, and so the exact LOCATION it was created with, and which records
 * the Glue Data Catalog requests each call stands for in the {@link TwinAccessLog} named by the
 * Hadoop conf it is given ({@code setConf}).
 *
 * <p>Each request is recorded once for every resource IAM evaluates it on (the Glue "API
 * permissions: actions and resources" reference): the catalog {@code
 * arn:<partition>:glue:<region>:<account>:catalog}, the database {@code .../database/<db>} and, for
 * table requests, the table {@code .../table/<db>/<table>} ({@code table/<db>/*} for GetTables).
 * What GlueCatalog calls for each method:
 *
 * <ul>
 *   <li>loading a table (its operations' refresh): glue:GetTable; a commit: glue:GetTable then
 *       glue:CreateTable (a new table) or glue:UpdateTable; dropTable: glue:DeleteTable (after a
 *       GetTable when purging); renameTable: GetTable, CreateTable, DeleteTable.
 *   <li>namespaceExists / loadNamespaceMetadata: glue:GetDatabase; createNamespace:
 *       glue:CreateDatabase; set/removeProperties: GetDatabase, UpdateDatabase; dropNamespace:
 *       GetDatabase, GetTables, DeleteDatabase; listNamespaces: glue:GetDatabases; listTables:
 *       glue:GetTables; a table without LOCATION: glue:GetDatabase for the database's location.
 * </ul>
 *
 * <p>Names are checked as GlueCatalog checks them (one-level namespaces, {@code [a-z0-9_]}), and a
 * table without LOCATION goes where GlueCatalog puts it: the database's location, else {@code
 * <warehouse>/<db>.db/<table>}; as for GlueCatalog, the warehouse is optional. All Spark catalogs
 * over it share one Glue Data Catalog per account (or {@code glue.id}), whatever their Spark names.
 * The Iceberg FileIO is Hadoop's (set by the twin), so data and metadata files go through {@link
 * LocalS3FileSystem} and are recorded as S3 requests.
 */
public class TwinGlueCatalog extends JdbcCatalog {
  private static final Pattern GLUE_DATABASE = Pattern.compile("^[a-z0-9_]{1,252}$");
  private static final Pattern GLUE_TABLE = Pattern.compile("^[a-z0-9_]{1,255}$");
  private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);

  private static final String NO_WAREHOUSE = "file:/undercurrent-twin/no-warehouse";

  private Configuration hadoopConf;
  private TwinAccessLog log;
  private String sparkName;
  private String arnPrefix;
  private String warehouse;

  public TwinGlueCatalog() {}

  @Override
  public void setConf(Object conf) {
    super.setConf(conf);
    if (conf instanceof Configuration) {
      hadoopConf = (Configuration) conf;
    }
  }

  @Override
  public void initialize(String name, Map<String, String> properties) {
    Map<String, String> props = new HashMap<>(properties);
    String uri = props.get(CatalogProperties.URI);
    if (uri == null || !uri.startsWith("jdbc:sqlite:")) {
      throw new IllegalArgumentException(
          "TwinGlueCatalog needs the catalog property uri = jdbc:sqlite:<file>, not " + uri);
    }
    createParentDirectory(uri.substring("jdbc:sqlite:".length()));
    props.putIfAbsent("jdbc.schema-version", "V1");
    try {
      Class.forName("org.sqlite.JDBC"); // registers the driver with DriverManager
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException("TwinGlueCatalog: sqlite-jdbc is not on the class path", e);
    }
    String warehouseProperty = props.get(CatalogProperties.WAREHOUSE_LOCATION);
    warehouse =
        warehouseProperty == null || warehouseProperty.isEmpty()
            ? null
            : warehouseProperty.replaceAll("/+$", "");
    if (warehouse == null) {
      // GlueCatalog needs no warehouse (a table then needs a LOCATION or a database location);
      // JdbcCatalog does: give it one that is never used for a table.
      props.put(CatalogProperties.WAREHOUSE_LOCATION, NO_WAREHOUSE);
    }
    Configuration conf = hadoopConf != null ? hadoopConf : new Configuration(false);
    try {
      log = TwinAccessLog.fromConf(conf);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String partition = conf.get(TwinAccessLog.PARTITION, "aws");
    String region = conf.get(TwinAccessLog.REGION, "");
    String account = props.getOrDefault("glue.id", conf.get(TwinAccessLog.ACCOUNT, ""));
    arnPrefix = "arn:" + partition + ":glue:" + region + ":" + account + ":";
    sparkName = name;
    // One Glue Data Catalog per account (or glue.id), whatever the Spark catalog is called: the
    // JDBC catalog's name is the Glue catalog's, so every Spark catalog over it sees its tables.
    super.initialize("glue:" + account, props);
  }

  /** The Spark catalog's name (the JDBC rows are under the Glue catalog's). */
  @Override
  public String name() {
    return sparkName;
  }

  // ---------------------------------------------------------------- tables

  @Override
  protected boolean isValidIdentifier(TableIdentifier identifier) {
    return identifier.namespace().levels().length == 1
        && GLUE_DATABASE.matcher(identifier.namespace().level(0)).matches()
        && GLUE_TABLE.matcher(identifier.name()).matches();
  }

  @Override
  protected TableOperations newTableOps(TableIdentifier identifier) {
    if (!isValidIdentifier(identifier)) {
      database(identifier.namespace());
      throw new ValidationException(
          "Cannot convert %s to a Glue table name, because it must be 1-255 chars "
              + "of lowercase letters, numbers, and underscore",
          identifier.name());
    }
    return new RecordingTableOperations(super.newTableOps(identifier), identifier);
  }

  @Override
  protected String defaultWarehouseLocation(TableIdentifier identifier) {
    Namespace namespace = identifier.namespace();
    String db = database(namespace);
    recordDatabase("getDatabase " + name() + "." + db, "glue:GetDatabase", db);
    Map<String, String> metadata = glueMetadata(namespace);
    String location = metadata.get("location");
    if (location != null && !location.isEmpty()) {
      return location.replaceAll("/+$", "") + "/" + identifier.name();
    }
    if (warehouse == null) {
      throw new ValidationException(
          "Cannot derive a location for %s: no database location and no warehouse", identifier);
    }
    return warehouse + "/" + db + ".db/" + identifier.name();
  }

  @Override
  public List<TableIdentifier> listTables(Namespace namespace) {
    String db = database(namespace);
    if (outermost()) {
      String op = "listTables " + name() + "." + db;
      record(op, "glue:GetTables", catalogArn());
      record(op, "glue:GetTables", databaseArn(db));
      record(op, "glue:GetTables", arnPrefix + "table/" + db + "/*");
    }
    return quietly(() -> super.listTables(namespace));
  }

  @Override
  public boolean dropTable(TableIdentifier identifier, boolean purge) {
    if (outermost() && isValidIdentifier(identifier)) {
      String op = "dropTable " + name() + "." + identifier;
      if (purge) {
        recordTable(op, "glue:GetTable", identifier);
      }
      recordTable(op, "glue:DeleteTable", identifier);
    }
    return quietly(() -> super.dropTable(identifier, purge));
  }

  @Override
  public void renameTable(TableIdentifier from, TableIdentifier to) {
    if (outermost()) {
      String op = "renameTable " + name() + "." + from + " -> " + name() + "." + to;
      recordTable(op, "glue:GetTable", from);
      recordTable(op, "glue:CreateTable", to);
      recordTable(op, "glue:DeleteTable", from);
    }
    quietly(
        () -> {
          super.renameTable(from, to);
          return null;
        });
  }

  // ---------------------------------------------------------------- namespaces

  @Override
  public boolean namespaceExists(Namespace namespace) {
    if (outermost()) {
      String db = database(namespace);
      recordDatabase("namespaceExists " + name() + "." + db, "glue:GetDatabase", db);
    }
    return quietly(() -> super.namespaceExists(namespace));
  }

  @Override
  public Map<String, String> loadNamespaceMetadata(Namespace namespace)
      throws NoSuchNamespaceException {
    if (outermost()) {
      String db = database(namespace);
      recordDatabase("loadNamespaceMetadata " + name() + "." + db, "glue:GetDatabase", db);
    }
    return glueMetadata(namespace);
  }

  /**
   * A namespace's properties as Glue has them: JdbcCatalog adds a "location" of {@code
   * <warehouse>/<db>} to a namespace created without one; a Glue database without LocationUri has
   * none.
   */
  private Map<String, String> glueMetadata(Namespace namespace) {
    Map<String, String> metadata = new HashMap<>(quietly(() -> super.loadNamespaceMetadata(namespace)));
    String location = metadata.get("location");
    String jdbcDefault = (warehouse != null ? warehouse : NO_WAREHOUSE) + "/" + namespace.level(0);
    if (location != null && location.replaceAll("/+$", "").equals(jdbcDefault)) {
      metadata.remove("location");
    }
    return metadata;
  }

  @Override
  public void createNamespace(Namespace namespace, Map<String, String> metadata) {
    if (outermost()) {
      String db = database(namespace);
      recordDatabase("createNamespace " + name() + "." + db, "glue:CreateDatabase", db);
    }
    quietly(
        () -> {
          super.createNamespace(namespace, metadata);
          return null;
        });
  }

  @Override
  public boolean dropNamespace(Namespace namespace) throws NamespaceNotEmptyException {
    if (outermost()) {
      String db = database(namespace);
      String op = "dropNamespace " + name() + "." + db;
      recordDatabase(op, "glue:GetDatabase", db);
      record(op, "glue:GetTables", catalogArn());
      record(op, "glue:GetTables", databaseArn(db));
      record(op, "glue:GetTables", arnPrefix + "table/" + db + "/*");
      record(op, "glue:DeleteDatabase", catalogArn());
      record(op, "glue:DeleteDatabase", databaseArn(db));
      record(op, "glue:DeleteDatabase", arnPrefix + "table/" + db + "/*");
      record(op, "glue:DeleteDatabase", arnPrefix + "userDefinedFunction/" + db + "/*");
    }
    return quietly(() -> super.dropNamespace(namespace));
  }

  @Override
  public boolean setProperties(Namespace namespace, Map<String, String> properties)
      throws NoSuchNamespaceException {
    if (outermost()) {
      String db = database(namespace);
      String op = "setProperties " + name() + "." + db;
      recordDatabase(op, "glue:GetDatabase", db);
      recordDatabase(op, "glue:UpdateDatabase", db);
    }
    return quietly(() -> super.setProperties(namespace, properties));
  }

  @Override
  public boolean removeProperties(Namespace namespace, Set<String> properties)
      throws NoSuchNamespaceException {
    if (outermost()) {
      String db = database(namespace);
      String op = "removeProperties " + name() + "." + db;
      recordDatabase(op, "glue:GetDatabase", db);
      recordDatabase(op, "glue:UpdateDatabase", db);
    }
    return quietly(() -> super.removeProperties(namespace, properties));
  }

  @Override
  public List<Namespace> listNamespaces() {
    if (outermost()) {
      String op = "listNamespaces " + name();
      record(op, "glue:GetDatabases", catalogArn());
      record(op, "glue:GetDatabases", arnPrefix + "database/*");
    }
    return quietly(() -> super.listNamespaces());
  }

  @Override
  public List<Namespace> listNamespaces(Namespace namespace) throws NoSuchNamespaceException {
    if (namespace.isEmpty()) {
      return listNamespaces();
    }
    // Glue has one level of namespaces: a database has none under it.
    database(namespace);
    if (outermost()) {
      String db = namespace.level(0);
      recordDatabase("listNamespaces " + name() + "." + db, "glue:GetDatabase", db);
    }
    if (!quietly(() -> super.namespaceExists(namespace))) {
      throw new NoSuchNamespaceException("Namespace does not exist: %s", namespace);
    }
    return List.of();
  }

  // ---------------------------------------------------------------- recording

  /** Table operations that record the Glue requests of GlueTableOperations' refresh and commit. */
  private final class RecordingTableOperations implements TableOperations {
    private final TableOperations delegate;
    private final TableIdentifier identifier;
    private boolean stale = true;

    RecordingTableOperations(TableOperations delegate, TableIdentifier identifier) {
      this.delegate = delegate;
      this.identifier = identifier;
    }

    private String op(String method) {
      return method + " " + name() + "." + identifier;
    }

    @Override
    public TableMetadata current() {
      if (stale) {
        stale = false;
        if (outermost()) {
          recordTable(op("loadTable"), "glue:GetTable", identifier);
        }
      }
      return delegate.current();
    }

    @Override
    public TableMetadata refresh() {
      stale = false;
      if (outermost()) {
        recordTable(op("refresh"), "glue:GetTable", identifier);
      }
      return delegate.refresh();
    }

    @Override
    public void commit(TableMetadata base, TableMetadata metadata) {
      if (outermost()) {
        String op = op(base == null ? "createTable" : "commit");
        recordTable(op, "glue:GetTable", identifier);
        recordTable(op, base == null ? "glue:CreateTable" : "glue:UpdateTable", identifier);
      }
      try {
        delegate.commit(base, metadata);
      } finally {
        stale = true;
      }
    }

    @Override
    public FileIO io() {
      return delegate.io();
    }

    @Override
    public EncryptionManager encryption() {
      return delegate.encryption();
    }

    @Override
    public String metadataFileLocation(String fileName) {
      return delegate.metadataFileLocation(fileName);
    }

    @Override
    public LocationProvider locationProvider() {
      return delegate.locationProvider();
    }

    @Override
    public TableOperations temp(TableMetadata uncommittedMetadata) {
      return delegate.temp(uncommittedMetadata);
    }

    @Override
    public long newSnapshotId() {
      return delegate.newSnapshotId();
    }

    @Override
    public boolean requireStrictCleanup() {
      return delegate.requireStrictCleanup();
    }
  }

  private interface Call<T> {
    T run();
  }

  /** Runs a call of the JdbcCatalog with recording off (its calls back into this class). */
  private static <T> T quietly(Call<T> call) {
    int[] depth = DEPTH.get();
    depth[0]++;
    try {
      return call.run();
    } finally {
      depth[0]--;
    }
  }

  private static boolean outermost() {
    return DEPTH.get()[0] == 0;
  }

  /** The Glue database of a namespace, checked as GlueCatalog checks it. */
  private static String database(Namespace namespace) {
    if (namespace.levels().length != 1) {
      throw new ValidationException(
          "Cannot convert namespace %s to Glue database name, "
              + "because it must have exactly 1 level",
          namespace);
    }
    String db = namespace.level(0);
    if (!GLUE_DATABASE.matcher(db).matches()) {
      throw new ValidationException(
          "Cannot convert namespace %s to Glue database name, because it must be 1-252 chars "
              + "of lowercase letters, numbers, and underscore",
          namespace);
    }
    return db;
  }

  private String catalogArn() {
    return arnPrefix + "catalog";
  }

  private String databaseArn(String db) {
    return arnPrefix + "database/" + db;
  }

  private void recordDatabase(String op, String action, String db) {
    record(op, action, catalogArn());
    record(op, action, databaseArn(db));
  }

  private void recordTable(String op, String action, TableIdentifier identifier) {
    String db = identifier.namespace().level(0);
    record(op, action, catalogArn());
    record(op, action, databaseArn(db));
    record(op, action, arnPrefix + "table/" + db + "/" + identifier.name());
  }

  private void record(String op, String action, String resource) {
    if (log != null) {
      log.record(op, action, resource, null);
    }
  }

  private static void createParentDirectory(String file) {
    String path = file.startsWith("file:") ? file.substring("file:".length()) : file;
    int query = path.indexOf('?');
    if (query >= 0) {
      path = path.substring(0, query);
    }
    if (path.isEmpty() || path.startsWith(":memory:")) {
      return;
    }
    Path parent = Paths.get(path).toAbsolutePath().getParent();
    if (parent != null) {
      try {
        Files.createDirectories(parent);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
