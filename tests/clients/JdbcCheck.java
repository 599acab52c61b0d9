// The PostgreSQL JDBC driver against Phantom-DB: prepared statements with parameters of
// several types, server-side prepares, setFetchSize (portals fetched a page at a time),
// errors with SQLSTATE and hint. Run as `java -cp postgresql.jar JdbcCheck.java HOST PORT`;
// prints "all checks passed" or throws.

import java.math.BigDecimal;
import java.sql.*;

public class JdbcCheck {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/phantom?user=phantom&prepareThreshold=1";
        try (Connection c = DriverManager.getConnection(url)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE j (id INT PRIMARY KEY, big BIGINT, name TEXT, price NUMERIC(10,2), "
                        + "ok BOOLEAN, ratio DOUBLE PRECISION, day DATE, at TIMESTAMP)");
            }
            try (PreparedStatement p = c.prepareStatement("INSERT INTO j VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
                for (int i = 1; i <= 3; i++) {
                    p.setInt(1, i);
                    p.setLong(2, 10_000_000_000L * i);
                    p.setString(3, "name " + i);
                    p.setBigDecimal(4, new BigDecimal("12.34").multiply(BigDecimal.valueOf(i)));
                    p.setBoolean(5, i % 2 == 1);
                    p.setDouble(6, i / 4.0);
                    // setDate sends "2024-02-01 +00", which DATE input does not take yet
                    // (PostgreSQL ignores the zone); java.time values go without one.
                    p.setObject(7, java.time.LocalDate.of(2024, 2, i));
                    p.setTimestamp(8, Timestamp.valueOf("2024-02-0" + i + " 10:30:00"));
                    check(p.executeUpdate() == 1, "insert count");
                }
                p.setInt(1, 4);
                p.setNull(2, Types.BIGINT);
                p.setNull(3, Types.VARCHAR);
                p.setNull(4, Types.NUMERIC);
                p.setNull(5, Types.BOOLEAN);
                p.setNull(6, Types.DOUBLE);
                p.setNull(7, Types.DATE);
                p.setNull(8, Types.TIMESTAMP);
                check(p.executeUpdate() == 1, "insert of NULLs");
            }
            try (PreparedStatement p = c.prepareStatement(
                    "SELECT id, big, name, price, ok, ratio, day, at FROM j WHERE id >= ? AND name <> ? ORDER BY id")) {
                // Run it several times: after prepareThreshold the driver uses a named statement.
                for (int round = 0; round < 3; round++) {
                    p.setInt(1, 2);
                    p.setString(2, "none");
                    try (ResultSet r = p.executeQuery()) {
                        check(r.next(), "row 2");
                        check(r.getInt(1) == 2 && r.getLong(2) == 20_000_000_000L, "ints");
                        check(r.getString(3).equals("name 2"), "text");
                        check(r.getBigDecimal(4).compareTo(new BigDecimal("24.68")) == 0, "numeric " + r.getBigDecimal(4));
                        check(!r.getBoolean(5), "boolean");
                        check(r.getDouble(6) == 0.5, "double");
                        check(r.getDate(7).toString().equals("2024-02-02"), "date " + r.getDate(7));
                        check(r.getTimestamp(8).equals(Timestamp.valueOf("2024-02-02 10:30:00")), "timestamp " + r.getTimestamp(8));
                        check(r.next() && r.getInt(1) == 3, "row 3");
                        check(!r.next(), "two rows");
                    }
                }
            }
            try (PreparedStatement p = c.prepareStatement("SELECT name, price FROM j WHERE id = ?")) {
                p.setInt(1, 4);
                try (ResultSet r = p.executeQuery()) {
                    check(r.next() && r.getString(1) == null && r.getBigDecimal(2) == null && r.wasNull(), "NULLs");
                }
            }
            // setFetchSize needs a transaction: the driver then fetches through a portal.
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("SELECT g FROM generate_series(1, ?) g")) {
                p.setFetchSize(100);
                p.setInt(1, 100_000_000);
                long started = System.nanoTime();
                try (ResultSet r = p.executeQuery()) {
                    for (int i = 1; i <= 250; i++) {
                        check(r.next() && r.getInt(1) == i, "row " + i);
                    }
                }
                check(System.nanoTime() - started < 10_000_000_000L, "pages of a huge result come promptly");
            }
            c.commit();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement()) {
                s.executeQuery("SELECT nosuch(1)");
                check(false, "error expected");
            } catch (SQLException e) {
                check(e.getSQLState().equals("42883"), "sqlstate " + e.getSQLState());
                String hint = ((org.postgresql.util.PSQLException) e).getServerErrorMessage().getHint();
                check(hint != null && hint.startsWith("No function matches"), "hint " + hint);
            }
        }
        System.out.println("all checks passed");
    }
}
