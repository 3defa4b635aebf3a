using Parley.Server;

ParleyServer.Build(args).Run();
