using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Parley.Rtc.Tests")]
