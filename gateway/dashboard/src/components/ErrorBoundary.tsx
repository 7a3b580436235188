import { Component, type ReactNode } from 'react';

// A view that throws while rendering shows its error in place of itself;
// the rest of the page keeps working (never a blank page).
export class ErrorBoundary extends Component<{ name: string; children: ReactNode }, { error: Error | null }> {
  state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <section className="panel" role="alert" data-testid="view-error">
        <h2>{this.props.name}</h2>
        <p className="bad">This view failed: {this.state.error.message}</p>
        <button type="button" onClick={() => this.setState({ error: null })}>try again</button>
      </section>
    );
  }
}
