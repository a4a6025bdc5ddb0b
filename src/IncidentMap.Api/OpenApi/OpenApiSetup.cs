using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.Swagger;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace IncidentMap.Api.OpenApi;

// Marker type: the OpenAPI document describes GeoJSON (RFC 7946 §3.1) rather than NetTopologySuite's class tree.

/// <summary>A GeoJSON geometry: Point, LineString, Polygon or their Multi forms, lon/lat in WGS 84.</summary>
public sealed class GeoJsonGeometry;

/// <summary>
/// A response header an endpoint sends that its statuses do not imply (see OpenApiSetup's HeadersFilter),
/// on the responses of <paramref name="Statuses"/>, for the OpenAPI document.
/// </summary>
public sealed record ResponseHeaderDoc(string Name, string Description, params int[] Statuses);

public static class OpenApiSetup
{
    public const string DocumentName = "v1";

    public static IServiceCollection AddIncidentMapOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc(DocumentName, new OpenApiInfo
            {
                Title = "IncidentMap",
                Version = "1.0",
                Description = "Geocoded incidents in PostGIS, served as OGC API – Features (GeoJSON). " +
                              "Errors are RFC 9457 problem details naming the offending field or parameter.",
                License = new OpenApiLicense { Name = "MIT" },
            });
            options.SchemaFilter<GeoJsonGeometrySchemaFilter>();
            options.SchemaFilter<SearchRequestSchemaFilter>();
            // Answers built as System.Text.Json DOM nodes (the landing page, collections, feature
            // schemas, tile metadata, places …) are JSON of their own shape; reflected, these types
            // showed the node classes' .NET members (options, parent, root) as if they were the answer's.
            options.MapType<JsonNode>(() => new OpenApiSchema());
            options.MapType<JsonObject>(() => new OpenApiSchema { Type = JsonSchemaType.Object, AdditionalProperties = new OpenApiSchema() });
            options.MapType<JsonArray>(() => new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema() });
            options.OperationFilter<QueryParameterSchemaFilter>();
            options.DocumentFilter<SharedParametersFilter>();
            options.AddSecurityDefinition(ApiKeyScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "X-API-Key",
                Description = "An IncidentMap API key (im_…). Writes need the write scope, /admin the admin scope; " +
                              "reads are public unless the service is configured to require a key.",
            });
            options.AddSecurityDefinition(BearerScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "IncidentMap API key (im_…)",
                Description = "The same API key as ApiKey, sent as Authorization: Bearer im_…. Sent with X-API-Key, both must be the same key.",
            });
            options.OperationFilter<OperationShapeFilter>();
            options.OperationFilter<SecurityRequirementFilter>(); // after the shape, which declares streamed bodies (imports)
            options.SupportNonNullableReferenceTypes();
            options.UseAllOfToExtendReferenceSchemas();
            var xml = Path.Combine(AppContext.BaseDirectory, "IncidentMap.Api.xml");
            if (File.Exists(xml)) options.IncludeXmlComments(xml);
            options.OperationFilter<EndpointTextFilter>(); // after the XML comments, which it overrides
            options.OperationFilter<TextAndSequenceSchemaFilter>();
            options.OperationFilter<RequestBodyFilter>();
            options.OperationFilter<HeadersFilter>(); // after every filter that adds a response
            options.DocumentFilter<AcceptPatchFilter>();
            options.DocumentFilter<NullableReferenceFilter>(); // last: after every filter that adds a schema
        });
        return services;
    }

    private static OpenApiSchema Position() => new()
    {
        Type = JsonSchemaType.Array,
        Description = "[longitude, latitude] in WGS 84 (EPSG:4326). A write may give more numbers (a height, a measure, as RFC 7946 §3.1.1 allows): they are accepted and not stored, so a read gives two.",
        MinItems = 2,
        Items = new OpenApiSchema { Type = JsonSchemaType.Number },
    };

    private static OpenApiSchema ArrayOf(OpenApiSchema items, int? minItems = null) =>
        new() { Type = JsonSchemaType.Array, Items = items, MinItems = minItems };

    private static OpenApiSchema Typed(string type, OpenApiSchema coordinates) => new()
    {
        Type = JsonSchemaType.Object,
        Required = new HashSet<string> { "type", "coordinates" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create(type)] },
            ["coordinates"] = coordinates,
        },
    };

    /// <summary>Replaces the empty marker class's schema with RFC 7946's geometry types.</summary>
    private sealed class GeoJsonGeometrySchemaFilter : ISchemaFilter
    {
        public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
        {
            if (context.Type != typeof(GeoJsonGeometry) || context.MemberInfo is not null || schema is not OpenApiSchema target) return;
            var ring = ArrayOf(Position(), 4);
            target.Type = null;
            target.Properties?.Clear();
            target.AdditionalPropertiesAllowed = true;
            target.Description = "GeoJSON geometry (RFC 7946), lon/lat in WGS 84. Rings must be closed and " +
                                 "non-self-intersecting; at most 100000 vertices.";
            target.OneOf =
            [
                Typed("Point", Position()),
                Typed("LineString", ArrayOf(Position(), 2)),
                Typed("Polygon", ArrayOf(ring, 1)),
                Typed("MultiPoint", ArrayOf(Position())),
                Typed("MultiLineString", ArrayOf(ArrayOf(Position(), 2))),
                Typed("MultiPolygon", ArrayOf(ArrayOf(ring, 1))),
            ];
        }
    }

    /// <summary>
    /// The search body as IncidentsApi.SearchIncidents reads it: <c>intersects</c> and a member per
    /// items parameter (from QueryParser.Parameters, so the two cannot drift), any other member a 400.
    /// A member is read as that parameter's text: a string as it is, a number or boolean as written, an
    /// array as a comma list (a whole-value parameter's array as the parameter repeated), null as absent,
    /// and filter's cql2-json also as the object itself. So every member takes a string, and those with
    /// a natural JSON form also take that.
    /// </summary>
    private sealed class SearchRequestSchemaFilter : ISchemaFilter
    {
        /// <summary>The comma-list parameters besides the whole-value ones (QueryParser's Lists): an array here.</summary>
        private static readonly HashSet<string> CommaLists = ["event_type", "country", "status", "time_precision", "geo_precision", "properties", "sortby"];

        public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
        {
            if (context.Type != typeof(IncidentMap.Api.Incidents.SearchRequestDoc) || context.MemberInfo is not null || schema is not OpenApiSchema target) return;
            target.Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["intersects"] = new OpenApiSchema
                {
                    AllOf = [context.SchemaGenerator.GenerateSchema(typeof(GeoJsonGeometry), context.SchemaRepository)],
                    Type = JsonSchemaType.Null, // or null (NullableReferenceFilter)
                    Description = "A GeoJSON geometry the incidents must intersect (lon/lat in WGS 84): a polygon too large for a URL's bbox or filter; " +
                                  $"at most {IncidentMap.Api.Incidents.IncidentsApi.MaxSearchVertices} vertices. null is the member left out, as for every member.",
                },
            };
            foreach (var (name, description) in IncidentMap.Api.Querying.QueryParser.Parameters)
                target.Properties[name] = Member(name, description);
            target.AdditionalPropertiesAllowed = false;
        }

        private static OpenApiSchema Member(string name, string description)
        {
            OpenApiSchema Of(JsonSchemaType type, string? minimum = null, string? maximum = null) => new() { Type = type, Minimum = minimum, Maximum = maximum };
            OpenApiSchema ListOf(OpenApiSchema items) => new()
                { Type = JsonSchemaType.Array, Items = items, MinItems = 1, MaxItems = IncidentMap.Api.Querying.QueryParser.MaxListValues };
            OpenApiSchema[] natural = name switch
            {
                "bbox" => [new() { Type = JsonSchemaType.Array, MinItems = 4, MaxItems = 6, Items = Of(JsonSchemaType.Number) }],
                "limit" => [Of(JsonSchemaType.Integer, "1")],
                "precision" => [Of(JsonSchemaType.Integer, "0", "15")],
                "lat" => [Of(JsonSchemaType.Number, "-90", "90")],
                "lon" => [Of(JsonSchemaType.Number, "-180", "180")],
                "radius" => [new() { Type = JsonSchemaType.Number, ExclusiveMinimum = "0", Maximum = "1000000", Description = "metres" }],
                "fatalities" => [Of(JsonSchemaType.Integer, "0")],
                "fatalities_min" or "fatalities_max" => [Of(JsonSchemaType.Integer, "0"), ListOf(Of(JsonSchemaType.Integer, "0"))],
                "count" => [Of(JsonSchemaType.Boolean)],
                "filter" => [new() { Type = JsonSchemaType.Object, Description = "cql2-json, with filter-lang cql2-json" }],
                _ when CommaLists.Contains(name) || IncidentMap.Api.Querying.QueryParser.WholeValues.Contains(name) => [ListOf(Of(JsonSchemaType.String))],
                _ => [],
            };
            // null is the member left out: the string form takes it, so anyOf does too.
            var text = Of(JsonSchemaType.String | JsonSchemaType.Null);
            if (natural.Length == 0)
            {
                text.Description = description;
                return text;
            }
            return new OpenApiSchema { Description = description, AnyOf = [.. natural, text] };
        }
    }

    /// <summary>
    /// Request bodies as the endpoints read them, where their Accepts says less: the search takes GeoJSON as
    /// well as JSON (<see cref="IncidentMap.Api.Incidents.SearchRequestDoc.MediaTypes"/>); a write (POST, PUT)
    /// needs what IncidentInput requires, which the Feature schema of the answers cannot require (a
    /// properties= page leaves it out) and a merge patch must not (PATCH sends only what changes), so a
    /// write's body is IncidentWriteDoc: the Feature with those properties required, and its geometry
    /// optional when a location_name is there to geocode.
    /// </summary>
    private sealed class RequestBodyFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            if (operation.RequestBody is not OpenApiRequestBody { Content: { } content }) return;
            var accepts = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>().LastOrDefault();
            if (accepts?.RequestType == typeof(IncidentMap.Api.Incidents.SearchRequestDoc) && content.Values.FirstOrDefault()?.Schema is { } search)
                foreach (var type in IncidentMap.Api.Incidents.SearchRequestDoc.MediaTypes)
                    content.TryAdd(type, new OpenApiMediaType { Schema = search });

            var method = context.ApiDescription.HttpMethod ?? "";
            if (accepts?.RequestType != typeof(IncidentMap.Api.Incidents.IncidentFeatureDoc) || !(HttpMethods.IsPost(method) || HttpMethods.IsPut(method))) return;
            var write = WriteSchema(context);
            foreach (var media in content.Values) media.Schema = write;
        }

        private const string WriteId = "IncidentWriteDoc", WritePropertiesId = "IncidentWritePropertiesDoc";

        private static OpenApiSchemaReference WriteSchema(OperationFilterContext context)
        {
            var repository = context.SchemaRepository;
            if (!repository.Schemas.ContainsKey(WriteId))
            {
                // The answers' schemas, copied: their members and descriptions stay one list (IncidentContract).
                context.SchemaGenerator.GenerateSchema(typeof(IncidentMap.Api.Incidents.IncidentFeatureDoc), repository);
                var feature = (OpenApiSchema)repository.Schemas[nameof(IncidentMap.Api.Incidents.IncidentFeatureDoc)];
                var properties = (OpenApiSchema)repository.Schemas[nameof(IncidentMap.Api.Incidents.IncidentPropertiesDoc)];

                var writeProperties = (OpenApiSchema)properties.CreateShallowCopy();
                writeProperties.Properties = new Dictionary<string, IOpenApiSchema>(properties.Properties ?? new Dictionary<string, IOpenApiSchema>());
                writeProperties.Required = new HashSet<string>(IncidentMap.Api.Incidents.IncidentWriteDoc.RequiredProperties);
                repository.AddDefinition(WritePropertiesId, writeProperties);

                var members = new Dictionary<string, IOpenApiSchema>(feature.Properties ?? new Dictionary<string, IOpenApiSchema>())
                {
                    ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("Feature")] },
                    ["geometry"] = new OpenApiSchema
                    {
                        AllOf = [context.SchemaGenerator.GenerateSchema(typeof(GeoJsonGeometry), repository)],
                        Type = JsonSchemaType.Null,
                        Description = "Required, unless properties.location_name is given (and the geometry left out or null): the server then geocodes it.",
                    },
                    ["properties"] = new OpenApiSchema
                    {
                        AllOf = [new OpenApiSchemaReference(WritePropertiesId, context.Document)],
                        Description = properties.Description,
                    },
                    ["bbox"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.Number },
                        Description = "GeoJSON's bounding box, as a Feature may carry one: accepted and ignored.",
                    },
                };
                var write = (OpenApiSchema)feature.CreateShallowCopy();
                write.Description = "An incident to record (POST) or to replace one with (PUT): a GeoJSON Feature whose properties have at least " +
                                    string.Join(", ", IncidentMap.Api.Incidents.IncidentWriteDoc.RequiredProperties) +
                                    "; what the server sets (id, links, place_id, derived_fields, created_at, updated_at, version, distance_m) may be sent back as read, and is ignored.";
                write.Properties = members;
                write.Required = new HashSet<string> { "type", "properties" };
                repository.AddDefinition(WriteId, write);
            }
            return new OpenApiSchemaReference(WriteId, context.Document);
        }
    }

    /// <summary>
    /// An operation's summary and description are the ones its endpoint declares (WithSummary,
    /// WithDescription), written for API users. IncludeXmlComments would put the handler method's doc
    /// comment in their place, which is written for maintainers (createKey's summary was why its body
    /// is read by hand).
    /// </summary>
    private sealed class EndpointTextFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
            operation.Summary = metadata.OfType<Microsoft.AspNetCore.Http.Metadata.IEndpointSummaryMetadata>().LastOrDefault()?.Summary;
            operation.Description = metadata.OfType<Microsoft.AspNetCore.Http.Metadata.IEndpointDescriptionMetadata>().LastOrDefault()?.Description;
        }
    }

    public const string ApiKeyScheme = "ApiKey";

    /// <summary>The key as <c>Authorization: Bearer im_…</c> (ApiKeyAuthentication takes either header).</summary>
    public const string BearerScheme = "Bearer";

    /// <summary>
    /// Operations that need a write or admin key say so, so Swagger UI sends the key it was given: in either header,
    /// X-API-Key or Authorization: Bearer, each an alternative. A read takes one and needs none, unless the
    /// service requires a key for reads (Auth:RequireKeyForReads): the empty requirement says it may go without.
    /// </summary>
    private sealed class SecurityRequirementFilter(Hosting.Settings settings) : IOperationFilter
    {
        private static List<OpenApiSecurityRequirement> KeyRequirements(OperationFilterContext context) =>
        [
            new() { [new OpenApiSecuritySchemeReference(ApiKeyScheme, context.Document)] = [] },
            new() { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] },
        ];

        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var policies = context.ApiDescription.ActionDescriptor.EndpointMetadata
                .OfType<Microsoft.AspNetCore.Authorization.IAuthorizeData>().Select(a => a.Policy).ToList();
            // Every operation can meet a rate limit or a database outage.
            AddProblem(operation, context, "429", "Too many requests (Retry-After says when to retry)");
            AddProblem(operation, context, "503", "Database unavailable or not migrated, or the service is stopping (Retry-After says when to retry)");
            // Every body is read against a clock: Kestrel's minimum rate (240 bytes a second after 5 s), and a JSON
            // body's whole deadline (Requests__BodySeconds).
            if (operation.RequestBody is not null)
                AddProblem(operation, context, "408", "The request body arrived too slowly (under 240 bytes a second), or a JSON body not whole within Requests__BodySeconds");
            if (!policies.Any(p => p is Security.Scopes.Write or Security.Scopes.Admin))
            {
                // A read takes no key, but one it is sent must be valid (and with Auth:RequireKeyForReads it needs one).
                if (policies.Contains(Security.SecuritySetup.ReadPolicy))
                {
                    AddProblem(operation, context, "401", "An API key was sent that is unknown or revoked, or two different keys in X-API-Key and Authorization: Bearer, or reads need a key (Auth:RequireKeyForReads) and none was sent");
                    operation.Security = settings.RequireKeyForReads ? KeyRequirements(context) : [new OpenApiSecurityRequirement(), .. KeyRequirements(context)];
                }
                return;
            }
            AddProblem(operation, context, "401", "Missing, unknown or revoked API key, or two different keys in X-API-Key and Authorization: Bearer");
            AddProblem(operation, context, "403", "The API key lacks the needed scope");
            operation.Security = KeyRequirements(context);
        }
    }

    /// <summary>
    /// What the generator leaves out of a valid document: HEAD operations share their GET's name
    /// (operationIds must be unique), handlers that bind no path parameter (OPTIONS) leave it
    /// undeclared, and a response declared by content type alone (tiles, the event stream) loses it.
    /// </summary>
    private sealed class OperationShapeFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var method = context.ApiDescription.HttpMethod ?? "";
            if (operation.OperationId is { Length: > 0 } id && !HttpMethods.IsGet(method) && context.ApiDescription.ActionDescriptor.EndpointMetadata
                    .OfType<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>().Any(m => m.HttpMethods.Count > 1))
                operation.OperationId = id + char.ToUpperInvariant(method[0]) + method[1..].ToLowerInvariant();

            var path = context.ApiDescription.RelativePath ?? "";
            foreach (System.Text.RegularExpressions.Match match in System.Text.RegularExpressions.Regex.Matches(path, @"\{([^}:]+)[^}]*\}"))
            {
                var name = match.Groups[1].Value;
                operation.Parameters ??= [];
                if (operation.Parameters.Any(p => p.In == ParameterLocation.Path && p.Name == name)) continue;
                operation.Parameters.Add(new OpenApiParameter { Name = name, In = ParameterLocation.Path, Required = true, Schema = new OpenApiSchema { Type = JsonSchemaType.String } });
            }

            if (context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<IncidentMap.Api.Incidents.RequestBodyDoc>().FirstOrDefault() is { } body)
                operation.RequestBody = new OpenApiRequestBody
                {
                    Description = body.Description, Required = true,
                    Content = body.ContentTypes.ToDictionary(t => t, _ => new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } }),
                };

            foreach (var produces in context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<Microsoft.AspNetCore.Http.Metadata.IProducesResponseTypeMetadata>())
            {
                if ((produces.Type is not null && produces.Type != typeof(void)) || !produces.ContentTypes.Any()) continue;
                if (operation.Responses?.TryGetValue(produces.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response) != true
                    || response is not OpenApiResponse { } concrete) continue;
                concrete.Content ??= new Dictionary<string, OpenApiMediaType>();
                foreach (var type in produces.ContentTypes)
                    concrete.Content.TryAdd(type, new OpenApiMediaType
                    {
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = type.StartsWith("text/", StringComparison.Ordinal) ? null : "binary" },
                    });
            }
        }
    }

    private static void AddProblem(OpenApiOperation operation, OperationFilterContext context, string status, string description)
    {
        operation.Responses ??= [];
        if (operation.Responses.ContainsKey(status)) return;
        var schema = context.SchemaGenerator.GenerateSchema(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), context.SchemaRepository);
        operation.Responses[status] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = schema } },
        };
    }

    /// <summary>
    /// OGC API – Features clients look for the standard parameters as shared components
    /// (components.parameters.limit, bbox, datetime); operations reference them.
    /// </summary>
    private sealed class SharedParametersFilter : IDocumentFilter
    {
        private static readonly string[] Shared = ["limit", "bbox", "datetime"];

        public void Apply(OpenApiDocument document, DocumentFilterContext context)
        {
            document.Components ??= new OpenApiComponents();
            document.Components.Parameters ??= new Dictionary<string, IOpenApiParameter>();
            foreach (var operation in document.Paths.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []))
            {
                if (operation.Parameters is null) continue;
                for (var n = 0; n < operation.Parameters.Count; n++)
                {
                    // Only the incident query's own: places and the change feed have a limit of their own.
                    if (operation.Parameters[n] is not OpenApiParameter { In: ParameterLocation.Query } parameter
                        || !Shared.Contains(parameter.Name)
                        || parameter.Description != IncidentMap.Api.Querying.QueryParser.Parameters.GetValueOrDefault(parameter.Name!)) continue;
                    document.Components.Parameters[parameter.Name!] = parameter;
                    operation.Parameters[n] = new OpenApiParameterReference(parameter.Name!, document);
                }
            }
        }
    }

    /// <summary>
    /// Query parameters are bound as strings so that a bad value gets our problem answer naming the
    /// parameter; the document still declares their real types and ranges.
    /// </summary>
    private sealed class QueryParameterSchemaFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var jsonOnly = context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<Problems.JsonOnlyResource>().Any();
            if (jsonOnly)
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "f", In = ParameterLocation.Query, Description = "json (the default and only format); any other query parameter is a 400.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("json")], Default = JsonValue.Create("json") },
                });
                AddProblem(operation, context, "400", "An unknown query parameter, or f other than json");
            }
            var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IncidentMap.Api.Incidents.QueryParametersMetadata>().FirstOrDefault() is { } incidentQuery)
            {
                operation.Parameters ??= [];
                var ownDocs = metadata.OfType<IncidentMap.Api.Incidents.QueryParameterDoc>().Select(d => d.Name).ToHashSet();
                foreach (var (name, description) in IncidentMap.Api.Querying.QueryParser.Parameters)
                {
                    // An endpoint that reads an incident parameter its own way (the stats' datetime, in tz) documents it itself.
                    if (ownDocs.Contains(name)) continue;
                    if (incidentQuery.Page is { } page && IncidentMap.Api.Querying.QueryParser.PageParameters.Contains(name) && !page.Contains(name)) continue;
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = name, In = ParameterLocation.Query, Description = description,
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    });
                }
            }
            // The endpoint's own parameters, declared as they are: not shaped like the incident query's below.
            var own = new List<OpenApiParameter>();
            foreach (var doc in metadata.OfType<IncidentMap.Api.Incidents.QueryParameterDoc>())
            {
                operation.Parameters ??= [];
                var parameter = new OpenApiParameter
                {
                    Name = doc.Name, In = ParameterLocation.Query, Description = doc.Description, Required = doc.Required,
                    Schema = doc.Type == "number[]"
                        ? new OpenApiSchema
                        {
                            Type = JsonSchemaType.Array, MinItems = doc.MinItems, MaxItems = doc.MaxItems, Items = new OpenApiSchema { Type = JsonSchemaType.Number },
                        }
                        : new OpenApiSchema
                        {
                            Type = doc.Type switch { "integer" => JsonSchemaType.Integer, "number" => JsonSchemaType.Number, "boolean" => JsonSchemaType.Boolean, _ => JsonSchemaType.String },
                            Enum = doc.Enum?.Select(e => (JsonNode)JsonValue.Create(e)!).ToList(),
                            Minimum = doc.Minimum, Maximum = doc.Maximum,
                            Default = doc.Default is null ? null
                                : doc.Type == "integer" ? JsonValue.Create(int.Parse(doc.Default, System.Globalization.CultureInfo.InvariantCulture))
                                : JsonValue.Create(doc.Default),
                        },
                };
                // A comma list, as OGC API – Features declares bbox: form style, not exploded.
                if (doc.Type == "number[]")
                {
                    parameter.Style = ParameterStyle.Form;
                    parameter.Explode = false;
                }
                own.Add(parameter);
                operation.Parameters.Add(parameter);
            }
            foreach (var doc in metadata.OfType<IncidentMap.Api.Incidents.HeaderParameterDoc>())
            {
                operation.Parameters ??= [];
                var header = new OpenApiParameter { Name = doc.Name, In = ParameterLocation.Header, Description = doc.Description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
                own.Add(header);
                operation.Parameters.Add(header);
            }
            foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>().Except(own) ?? [])
            {
                parameter.Schema = parameter.Name switch
                {
                    "limit" => new OpenApiSchema
                    {
                        Type = JsonSchemaType.Integer, Minimum = "1", Maximum = "10000", Default = JsonValue.Create(10),
                    },
                    "f" when jsonOnly => parameter.Schema,
                    "f" => new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Enum = [JsonValue.Create("json"), JsonValue.Create("csv"), JsonValue.Create("geojsonseq"), JsonValue.Create("ndjson")],
                        Default = JsonValue.Create("json"),
                    },
                    "bbox" => new OpenApiSchema
                    {
                        Type = JsonSchemaType.Array, MinItems = 4, MaxItems = 6, Items = new OpenApiSchema { Type = JsonSchemaType.Number },
                    },
                    "lat" or "lon" => new OpenApiSchema { Type = JsonSchemaType.Number },
                    // No default: it depends on the format (see the description).
                    "precision" => new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0", Maximum = "15" },
                    // A comma list of counts (5,10 is either), as bbox is a comma list of numbers.
                    "fatalities_min" or "fatalities_max" => new OpenApiSchema
                    {
                        Type = JsonSchemaType.Array, MinItems = 1, MaxItems = IncidentMap.Api.Querying.QueryParser.MaxListValues,
                        Items = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0" },
                    },
                    "count" => new OpenApiSchema { Type = JsonSchemaType.Boolean },
                    // A whole value, commas included: several are the parameter repeated (admin1=Homs&admin1=Idlib), any of them.
                    var name when IncidentMap.Api.Querying.QueryParser.WholeValues.Contains(name!) => new OpenApiSchema
                    {
                        Type = JsonSchemaType.Array, MinItems = 1, MaxItems = IncidentMap.Api.Querying.QueryParser.MaxListValues,
                        Items = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1 },
                    },
                    _ => parameter.Schema,
                };
                if (parameter.Name is "bbox" or "fatalities_min" or "fatalities_max")
                {
                    parameter.Style = ParameterStyle.Form;
                    parameter.Explode = false;
                }
                else if (IncidentMap.Api.Querying.QueryParser.WholeValues.Contains(parameter.Name!))
                {
                    parameter.Style = ParameterStyle.Form;
                    parameter.Explode = true;
                }
            }
        }
    }

    /// <summary>
    /// Bodies that are not JSON documents, declared by their media type whatever schema the endpoint's
    /// Produces gave for its JSON form: CSV is text; a GeoJSON text sequence (RFC 8142) and
    /// newline-delimited JSON are records of the Features the JSON form's <c>features</c> holds.
    /// </summary>
    private sealed class TextAndSequenceSchemaFilter : IOperationFilter
    {
        private static readonly Dictionary<string, string> Sequences = new()
        {
            ["application/geo+json-seq"] = "A GeoJSON text sequence (RFC 8142): one Feature per record, each record the character RS (0x1E), " +
                                           "the Feature and a line feed. OpenAPI 3.0 cannot declare a sequence: this schema is one record's.",
            ["application/x-ndjson"] = "Newline-delimited JSON: one Feature per line. OpenAPI 3.0 cannot declare a sequence: this schema is one line's.",
        };

        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            foreach (var response in operation.Responses?.Values.OfType<OpenApiResponse>() ?? [])
            {
                if (response.Content is not { } content) continue;
                if (content.TryGetValue("text/csv", out var csv))
                    csv.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "CSV (RFC 4180) with a header row; one row a record." };
                var feature = content.Where(c => c.Key.EndsWith("json", StringComparison.Ordinal)).Select(c => FeatureOf(c.Value.Schema, context)).FirstOrDefault(f => f is not null);
                foreach (var (type, description) in Sequences)
                    if (content.TryGetValue(type, out var sequence))
                        sequence.Schema = feature is null
                            ? new OpenApiSchema { Type = JsonSchemaType.String, Description = description }
                            : new OpenApiSchema { AllOf = [feature], Description = description };
            }
        }

        /// <summary>The schema of a FeatureCollection's features, when <paramref name="schema"/> is one.</summary>
        private static IOpenApiSchema? FeatureOf(IOpenApiSchema? schema, OperationFilterContext context)
        {
            if (schema is OpenApiSchemaReference reference && reference.Reference.Id is { } id)
                schema = context.SchemaRepository.Schemas.GetValueOrDefault(id);
            return schema?.Properties?.TryGetValue("features", out var features) == true ? features.Items : null;
        }
    }

    /// <summary>
    /// The headers an operation reads and sends, declared from what its metadata says it does, so an
    /// endpoint mapped later gets them by declaring its statuses:
    /// <list type="bullet">
    /// <item>a 304 means a conditional read: If-None-Match, and ETag on its 2xx and 304; with a 412, If-Match too;</item>
    /// <item>a 412 or 428 means a versioned write: If-Match (required while Writes:RequireIfMatch is on,
    /// which makes its absence the 428), and ETag on its answers with a body and its 412;</item>
    /// <item>a body may come compressed (Content-Encoding), and a JSON body read whole (not streamed,
    /// <see cref="IncidentMap.Api.Incidents.RequestBodyDoc"/>) may name its coordinates' CRS (Content-Crs);</item>
    /// <item>a 202 is a job: Prefer: respond-async asks for it, and it answers with where to poll
    /// (Location) and how soon (Retry-After);</item>
    /// <item>a 201 says where the new resource is (Location); a 429 or 503 when to retry (Retry-After);
    /// a 405 and an OPTIONS answer which methods are allowed (Allow); a PATCH's 415 which patch
    /// formats are (Accept-Patch, RFC 5789 §2.2);</item>
    /// <item>anything else an endpoint declares itself (<see cref="ResponseHeaderDoc"/>, <see cref="IncidentMap.Api.Incidents.HeaderParameterDoc"/>).</item>
    /// </list>
    /// </summary>
    private sealed class HeadersFilter(Hosting.Settings settings) : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
            var method = context.ApiDescription.HttpMethod ?? "";
            var responses = operation.Responses?.Where(r => r.Value is OpenApiResponse)
                .ToDictionary(r => int.Parse(r.Key, System.Globalization.CultureInfo.InvariantCulture), r => (OpenApiResponse)r.Value) ?? [];
            bool Declares(int status) => responses.ContainsKey(status);
            IEnumerable<OpenApiResponse> Where(Func<int, bool> statuses) => responses.Where(r => statuses(r.Key)).Select(r => r.Value);

            if (Declares(304))
            {
                RequestHeader(operation, "If-None-Match", "ETags this client holds (weakly compared; * for any): 304 Not Modified, without a body, while one is current.");
                foreach (var response in Where(s => s is >= 200 and < 300 or 304))
                    ResponseHeader(response, "ETag", "The answer's version, for If-None-Match; compressed, it names its coding (\"d1f-br\"), and either spelling revalidates.");
            }
            if (metadata.OfType<Collections.PreconditionsWithoutETagDoc>().Any() && method is "GET" or "HEAD")
                RequestHeader(operation, "If-Match",
                    "Only * matches: this answer has no ETag, so a list of entity tags is a 412 (RFC 9110 §13.1.1).");
            else if (metadata.OfType<Collections.PreconditionsWithoutETagDoc>().Any())
            {
                // A change of something without an ETag (a collection, an API key): evaluated before anything is done.
                RequestHeader(operation, "If-Match",
                    "Only * matches: the target exists but has no ETag, so a list of entity tags is a 412 and nothing is done (RFC 9110 §13.1.1).");
                RequestHeader(operation, "If-None-Match",
                    "* is a 412 and nothing is done, the target existing; a list of entity tags never matches, since it has no ETag (RFC 9110 §13.1.2).");
            }
            else if (Declares(304) && Declares(412))
            {
                RequestHeader(operation, "If-Match",
                    "ETags of the answer this client read, or * (RFC 9110 §13.1.1): strongly compared, so a weak ETag never matches; 412 when none is current.");
                foreach (var response in Where(s => s == 412))
                    ResponseHeader(response, "ETag", "The answer's current version.");
            }
            else if (Declares(412) || Declares(428))
            {
                RequestHeader(operation, "If-Match",
                    "The ETag you read (an incident's \"v3\"), or several, or * for whatever version is current; strongly compared: 412 when the resource has changed since. " +
                    (!Declares(428)
                        ? "Optional: without it the change is made whatever the current state."
                        : settings.RequireIfMatch
                        ? "Required: without it the answer is a 428 (unless the service runs with Writes__RequireIfMatch=false)."
                        : "Optional here (Writes__RequireIfMatch=false): without it the change is made whatever the current version."),
                    required: settings.RequireIfMatch && Declares(428));
                if (Declares(428))
                    RequestHeader(operation, "If-None-Match",
                        "ETags (weakly compared) of versions this change must not be made to, or * (the incident exists, so never): 412 when the current version is one.");
                foreach (var response in Where(s => s is 412 or (>= 200 and < 300 and not 204)))
                    ResponseHeader(response, "ETag", "The resource's current version: on a 412, the one to read and retry against.");
            }
            if (operation.RequestBody is not null)
            {
                RequestHeader(operation, "Content-Encoding",
                    "gzip (or x-gzip, RFC 9110 §8.4.1.3) or br: the body is decompressed, within the same size limit; any other coding is a 415 naming the ones taken.",
                    values: ["gzip", "x-gzip", "br", "identity"]);
                if (!metadata.OfType<IncidentMap.Api.Incidents.RequestBodyDoc>().Any()
                    && operation.RequestBody.Content?.Keys.Any(t => t.EndsWith("json", StringComparison.Ordinal)) == true)
                    RequestHeader(operation, "Content-Crs",
                        $"The coordinate reference system of the body's coordinates: only <{Collections.Conformance.Crs84}> (lon/lat, the default); any other is a 400.");
            }
            if (Declares(202))
            {
                RequestHeader(operation, "Prefer", "respond-async (RFC 7240): run the request as a job, answered at once with 202 and where to poll.");
                foreach (var response in Where(s => s == 202))
                    ResponseHeader(response, "Retry-After", "Seconds until polling the job is worth it.", JsonSchemaType.Integer);
            }
            foreach (var response in Where(s => s is 201 or 202))
                ResponseHeader(response, "Location", "Where the new resource is (a path, under the service's base path).");
            foreach (var response in Where(s => s is 429 or 503))
                ResponseHeader(response, "Retry-After", "Seconds to wait before retrying.", JsonSchemaType.Integer);
            foreach (var response in Where(s => s == 405 || (HttpMethods.IsOptions(method) && s is >= 200 and < 300)))
                ResponseHeader(response, "Allow", "The methods this resource allows.");
            if (HttpMethods.IsPatch(method))
                foreach (var response in Where(s => s == 415))
                    ResponseHeader(response, "Accept-Patch", "The patch formats taken (RFC 5789).");
            foreach (var doc in metadata.OfType<ResponseHeaderDoc>())
                foreach (var response in Where(doc.Statuses.Contains))
                    ResponseHeader(response, doc.Name, doc.Description);
        }

        private static void RequestHeader(OpenApiOperation operation, string name, string description, bool required = false, string[]? values = null)
        {
            operation.Parameters ??= [];
            if (operation.Parameters.Any(p => p.In == ParameterLocation.Header && string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))) return;
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = name, In = ParameterLocation.Header, Description = description, Required = required,
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = values?.Select(v => (JsonNode)JsonValue.Create(v)).ToList() },
            });
        }
    }

    private static void ResponseHeader(OpenApiResponse response, string name, string description, JsonSchemaType type = JsonSchemaType.String)
    {
        response.Headers ??= new Dictionary<string, IOpenApiHeader>();
        response.Headers.TryAdd(name, new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = type } });
    }

    /// <summary>
    /// OPTIONS on a resource that takes PATCH names the patch formats (Accept-Patch, RFC 5789 §3.1). Known
    /// only beside the path's other operations, so for the whole document.
    /// </summary>
    private sealed class AcceptPatchFilter : IDocumentFilter
    {
        public void Apply(OpenApiDocument document, DocumentFilterContext context)
        {
            foreach (var path in document.Paths.Values)
            {
                if (path.Operations is not { } operations || !operations.ContainsKey(HttpMethod.Patch)
                    || operations.GetValueOrDefault(HttpMethod.Options) is not { Responses: { } responses }) continue;
                foreach (var response in responses.Where(r => r.Key.StartsWith('2')).Select(r => r.Value).OfType<OpenApiResponse>())
                    ResponseHeader(response, "Accept-Patch", "The patch formats PATCH takes here (RFC 5789).");
            }
        }
    }

    /// <summary>
    /// "A reference, or null", said so that OpenAPI 3.0.3 means it. The generator writes a nullable reference as
    /// <c>{"allOf": [{"$ref": …}], "nullable": true}</c>; since 3.0.3, <c>nullable</c> only adds null to a <c>type</c>
    /// in the same schema object, and this one has none, so the allOf's referenced (typed) schema refuses null, and
    /// strict validators (openapi-schema-validator's OAS30Validator) refused the service's nulls: a deletion's
    /// <c>"feature": null</c> in the change feed, an import report's <c>"error": null</c>. Such a schema becomes
    /// <c>{"oneOf": [{"$ref": …}, <see cref="NullOnly"/>]}</c>: the reference never matches null, the other
    /// schema only null, so exactly one does for every value. The null schema is the one the 3.0.3 clarification
    /// (OAI proposal 2019-10-31, issue 1368) gives: typed, nullable, and <c>enum: [null]</c>. Code generators read
    /// it as the referenced schema, nullable: NSwag 14.7 and Kiota 1.38 generate the same C# property types from
    /// this document as from the allOf one (only the search's intersects became nullable, as it is), and
    /// openapi-generator takes a schema whose enum is null alone as null (ModelUtils.isNullTypeSchema).
    /// </summary>
    private sealed class NullableReferenceFilter : IDocumentFilter
    {
        public void Apply(OpenApiDocument document, DocumentFilterContext context)
        {
            var seen = new HashSet<OpenApiSchema>(ReferenceEqualityComparer.Instance);
            foreach (var schema in document.Components?.Schemas?.Values ?? []) Visit(schema, seen);
            foreach (var operation in document.Paths.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []))
            {
                foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? []) Visit(parameter.Schema, seen);
                foreach (var media in (operation.RequestBody as OpenApiRequestBody)?.Content?.Values ?? []) Visit(media.Schema, seen);
                foreach (var response in operation.Responses?.Values.OfType<OpenApiResponse>() ?? [])
                    foreach (var media in response.Content?.Values ?? []) Visit(media.Schema, seen);
            }
            foreach (var parameter in document.Components?.Parameters?.Values.OfType<OpenApiParameter>() ?? []) Visit(parameter.Schema, seen);
        }

        private static void Visit(IOpenApiSchema? node, HashSet<OpenApiSchema> seen)
        {
            // A reference is visited where it is defined (components); only inline schemas are rewritten.
            if (node is not OpenApiSchema schema || !seen.Add(schema)) return;
            if (schema.Type is { } type && type.HasFlag(JsonSchemaType.Null) && (type & ~JsonSchemaType.Null) == 0
                && (schema.AllOf is { Count: > 0 } || schema.OneOf is { Count: > 0 } || schema.AnyOf is { Count: > 0 }))
            {
                // Nullable, with no type of its own for nullable to act on: null, or what the schema says without it.
                IOpenApiSchema inner = schema.AllOf is [var single] && schema.OneOf is null && schema.AnyOf is null
                    ? single
                    : new OpenApiSchema { AllOf = schema.AllOf, OneOf = schema.OneOf, AnyOf = schema.AnyOf };
                schema.Type = null;
                schema.AllOf = null;
                schema.AnyOf = null;
                schema.OneOf = [inner, NullOnly()];
            }
            foreach (var child in (schema.AllOf ?? []).Concat(schema.OneOf ?? []).Concat(schema.AnyOf ?? [])
                         .Concat(schema.Properties?.Values ?? []).Append(schema.Items).Append(schema.AdditionalProperties).Append(schema.Not))
                Visit(child, seen);
        }
    }

    /// <summary>
    /// The schema only null matches, in OpenAPI 3.0.3's terms: <c>{"type": "object", "nullable": true, "enum": [null]}</c>
    /// (nullable adds null to the type beside it; the enum then takes null alone).
    /// </summary>
    public static OpenApiSchema NullOnly() => new()
    {
        Type = JsonSchemaType.Object | JsonSchemaType.Null,
        Enum = [null!],
    };

    /// <summary>
    /// The OpenAPI 3.0 document as JSON, exactly as served at /openapi/v1.json and committed in openapi/; behind a
    /// proxy's path prefix (<paramref name="basePath"/>) its <c>servers</c> name that prefix, as Swashbuckle's own
    /// middleware wrote them.
    /// </summary>
    public static string Render(IServiceProvider services, string? basePath = null)
    {
        var document = services.GetRequiredService<ISwaggerProvider>().GetSwagger(DocumentName, basePath: basePath);
        using var writer = new StringWriter();
        document.SerializeAsV3(new OpenApiJsonWriter(writer));
        return writer.ToString().ReplaceLineEndings("\n") + "\n";
    }
}
