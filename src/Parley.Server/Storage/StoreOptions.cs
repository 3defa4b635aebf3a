namespace Parley.Server.Storage;

/// <summary>Which store the server keeps its durable state in (section <c>Parley:Store</c>).</summary>
public sealed class StoreOptions
{
    public const string SectionName = "Parley:Store";

    /// <summary><c>Sqlite</c> (default: one node, the file under <c>Parley:DataDirectory</c>) or <c>PostgreSQL</c> (shared by a cluster).</summary>
    public string Provider { get; set; } = "Sqlite";

    /// <summary>The Npgsql connection string when <see cref="Provider"/> is PostgreSQL (never logged: it may carry a password).</summary>
    public string ConnectionString { get; set; } = "";

    public bool IsPostgres => string.Equals(Provider, "PostgreSQL", StringComparison.OrdinalIgnoreCase)
        || string.Equals(Provider, "Postgres", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads and checks the section; a bad value names the key.</summary>
    public static StoreOptions Read(IConfiguration configuration)
    {
        var options = new StoreOptions();
        configuration.GetSection(SectionName).Bind(options);
        if (!options.IsPostgres && !string.Equals(options.Provider, "Sqlite", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Parley:Store:Provider '{options.Provider}' is not a store; use 'Sqlite' or 'PostgreSQL'");
        }

        if (options.IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                throw new InvalidOperationException("Parley:Store:ConnectionString is required when Parley:Store:Provider is PostgreSQL");
            }

            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                throw new InvalidOperationException($"Parley:Store:ConnectionString is not a valid PostgreSQL connection string: {ex.Message}", ex);
            }
        }

        return options;
    }
}
