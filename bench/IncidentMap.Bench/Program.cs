Console.WriteLine(typeof(IncidentMap.Api.Querying.QueryParser).Assembly.Location);
