import { makeServer, serviceName } from "./app.js";

const port = Number(process.env.PORT ?? "${{ values.port }}");
makeServer().listen(port, () => console.log(`${serviceName} listening on :${port}`));
