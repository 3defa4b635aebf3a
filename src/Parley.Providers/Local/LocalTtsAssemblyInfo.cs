using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Parley.Providers.Tests")]
