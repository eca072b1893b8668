/**
 * The tutorial's MyService (Part 3: services and new-style RPyC).
 */
import type { Connection } from "effect-rpyc"
import { Service } from "effect-rpyc"

export class MyService extends Service {
  constructor(readonly greeting = "hello") {
    super()
  }

  override onConnect(conn: Connection.Connection) {
    // code that runs when a connection is created (to init the service, if needed)
    console.error(`on_connect: ${conn.id}`)
  }

  override onDisconnect(conn: Connection.Connection) {
    // code that runs after the connection has already closed (to finalize the service, if needed)
    console.error(`on_disconnect: ${conn.id}`)
  }

  exposed_get_answer() { // this is an exposed method
    return 42
  }

  exposed_the_real_answer_though = 43 // an exposed attribute

  exposed_get_greeting() {
    return this.greeting
  }

  // a public attribute: reachable only when the server allows public attributes
  public_note = "visible with allowPublicAttrs"

  get_question() { // while this method is not exposed
    return "what is the airspeed velocity of an unladen swallow?"
  }
}
